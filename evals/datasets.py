"""Dataset files: JSONL with ragas-compatible columns plus ours.

Every row may carry ``split``: "dev" rows may be used to tune and calibrate; "heldout" rows
never are (see evals/datasets/README*.md).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from triage.errors import InvalidInputError


def datasets_dir() -> Path:
    return Path(str(resources.files("evals") / "datasets"))


def default_dataset(name: str) -> Path:
    return datasets_dir() / name


def load_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"dataset {path} does not exist")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path} line {n}: not valid JSON ({exc.msg})") from None
            missing = [k for k in required if k not in row]
            if missing:
                raise InvalidInputError(f"{path} line {n}: missing column(s) {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise InvalidInputError(f"dataset {path} has no rows")
    return rows


def select_split(rows: list[dict], split: str) -> list[dict]:
    if split == "all":
        return rows
    return [r for r in rows if r.get("split", "heldout") == split]
