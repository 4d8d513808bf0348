"""Fitted models shipped in the package or refitted into the data dir: one loader with one error."""

from __future__ import annotations

from pathlib import Path

from triage.errors import ConfigurationError


def load_fitted(path: Path | None, shipped: Path, what: str, command: str):
    """The joblib file at ``path`` (or the shipped one), or a ConfigurationError naming the fix."""
    p = Path(path) if path else shipped
    if not p.exists():
        raise ConfigurationError(f"no fitted {what} at {p}; run `{command}`")
    import joblib

    return joblib.load(p)
