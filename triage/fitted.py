"""Fitted models shipped in the package or refitted into the data dir: one loader with one error."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from triage.errors import ConfigurationError


def shipped(name: str) -> Path:
    """A fitted model shipped in the package (``triage/data/NAME``)."""
    return Path(str(resources.files("triage") / "data" / name))


def load_fitted(path: Path | None, shipped_name: str, what: str, command: str):
    """The joblib file at ``path`` (or the shipped ``triage/data/shipped_name``), or a ConfigurationError naming the fix."""
    p = Path(path) if path else shipped(shipped_name)
    if not p.exists():
        raise ConfigurationError(f"no fitted {what} at {p}; run `{command}`")
    import joblib

    return joblib.load(p)
