"""JSON Lines input with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from triage.errors import InvalidInputError


def iter_jsonl(lines: Iterable[str], where: str, required: tuple[str, ...] = (),
               text: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; a bad line raises with its number.

    Fields named in ``text`` must be non-empty strings (a question, a message, a query).
    """
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where} line {n}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InvalidInputError(f"{where} line {n}: expected a JSON object")
        missing = [k for k in required if k not in obj]
        if missing:
            raise InvalidInputError(f"{where} line {n}: missing field(s) {', '.join(missing)}")
        for k in text:
            if not isinstance(obj.get(k), str) or not obj[k].strip():
                raise InvalidInputError(f"{where} line {n}: '{k}' must be a non-empty string")
        yield n, obj
