"""Sanity check for the voltcart eval store: run with the project venv (needs bs4).

Every line of questions.jsonl parses, every expected source exists, every reference context occurs verbatim
(after whitespace normalisation) in the visible text of one of its expected sources, every expected fact occurs
in its reference answer, and the voice/kind counts are printed.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

from bs4 import BeautifulSoup

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
VOICES = {"terse", "typo", "non_native", "rambling", "angry", "plain"}
KINDS = {"general", "other_business", "uncovered", "abuse"}


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def visible(path: Path) -> str:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return norm(BeautifulSoup(raw, "html.parser").get_text(" "))
    if path.suffix == ".json":
        return norm(" ".join(f"{r['question']} {r['answer']}" for r in json.loads(raw)))
    return norm(raw)


texts = {p.name: visible(p) for p in DOCS.iterdir()}
faq = json.loads((DOCS / "faq.json").read_text())
assert 70 <= len(faq) <= 90, len(faq)
assert all(set(r) == {"question", "answer", "category"} for r in faq)
errors, rows = [], []
for n, line in enumerate((HERE / "questions.jsonl").read_text().splitlines(), 1):
    r = json.loads(line)
    rows.append(r)
    if r["voice"] not in VOICES:
        errors.append(f"line {n}: bad voice {r['voice']}")
    if not r["in_scope"]:
        if r.get("kind") not in KINDS:
            errors.append(f"line {n}: bad kind")
        continue
    for s in r["expected_sources"]:
        if s not in texts:
            errors.append(f"line {n}: missing source {s}")
    for c in r["reference_contexts"]:
        if not any(norm(c) in texts.get(s, "") for s in r["expected_sources"]):
            errors.append(f"line {n}: context not found verbatim: {c[:70]}")
    for f in r["expected_facts"]:
        if f.lower() not in r["reference"].lower():
            errors.append(f"line {n}: fact {f!r} not in reference")
ids = [r["id"] for r in rows]
if len(ids) != len(set(ids)):
    errors.append("duplicate ids")
print("\n".join(errors) or "all checks passed")
print(len(rows), "rows;", Counter("in_scope" if r["in_scope"] else r["kind"] for r in rows))
print("voices in-scope:", Counter(r["voice"] for r in rows if r["in_scope"]))
print("voices out-of-scope:", Counter(r["voice"] for r in rows if not r["in_scope"]))
print("sources:", Counter(s for r in rows if r["in_scope"] for s in r["expected_sources"]))
words = sum(len(t.split()) for t in texts.values())
print("knowledge base words (visible):", words)
sys.exit(1 if errors else 0)
