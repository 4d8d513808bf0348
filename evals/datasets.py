"""Dataset files: JSONL with ragas-compatible columns plus ours.

Every row may carry ``split``: "dev" rows may be used to tune and calibrate; "heldout" rows
never are (see evals/datasets/README*.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from triage.errors import InvalidInputError
from triage.jsonl import iter_jsonl


def datasets_dir() -> Path:
    return Path(str(resources.files("evals") / "datasets"))


def default_dataset(name: str) -> Path:
    return datasets_dir() / name


def load_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"dataset {path} does not exist")
    with path.open(encoding="utf-8") as f:
        rows = [row for _, row in iter_jsonl(f, str(path), required)]
    if not rows:
        raise InvalidInputError(f"dataset {path} has no rows")
    return rows


def select_split(rows: list[dict], split: str) -> list[dict]:
    if split == "all":
        return rows
    return [r for r in rows if r.get("split", "heldout") == split]
