"""Self-check for the oakandthread eval store: JSON parses, sources exist, contexts are verbatim.

Run: python evals/stores/oakandthread/check_store.py
"""
import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def visible(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return norm(" \n".join(f"{r['question']} {r['answer']}" for r in csv.DictReader(text.splitlines())))
    if path.suffix == ".md":
        text = re.sub(r"\*\*|`", "", text)
    return norm(text)


def main() -> int:
    texts = {p.name: visible(p) for p in DOCS.iterdir() if p.is_file()}
    errors, ids = [], set()
    rows = []
    for n, line in enumerate((HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: bad JSON ({exc})")
            continue
        rows.append(q)
        if q["id"] in ids:
            errors.append(f"line {n}: duplicate id {q['id']}")
        ids.add(q["id"])
        if not q["in_scope"]:
            if q.get("kind") not in ("general", "other_business", "uncovered", "abuse"):
                errors.append(f"{q['id']}: bad kind")
            continue
        for s in q["expected_sources"]:
            if s not in texts:
                errors.append(f"{q['id']}: source {s} missing")
        for c in q["reference_contexts"]:
            if not any(norm(c) in texts.get(s, "") for s in q["expected_sources"]):
                errors.append(f"{q['id']}: context not verbatim in its sources: {c!r}")
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in DOCS.iterdir())
    print(f"{len(rows)} rows; docs {len(texts)} files, {words} words")
    print("kinds:", Counter("in_scope" if q["in_scope"] else q["kind"] for q in rows))
    print("voices:", Counter(q["voice"] for q in rows))
    print("sources:", Counter(s for q in rows if q["in_scope"] for s in q["expected_sources"]))
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
