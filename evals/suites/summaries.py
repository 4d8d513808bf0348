"""Handoff summaries: key-fact coverage and ROUGE-L against references; intent and order numbers."""

from __future__ import annotations

from pathlib import Path

from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl, select_split
from evals.suites import EvalContext, SuiteResult

DATASET = "summaries.jsonl"


def run(ctx: EvalContext, dataset: Path | None = None) -> SuiteResult:
    from triage.summary import summarize_transcript

    path = Path(dataset or default_dataset(DATASET))
    rows = load_jsonl(path, ("id", "turns"))
    rows = select_split(rows, ctx.split) if any("split" in r for r in rows) else rows
    items = []
    for n, row in enumerate(rows, 1):
        s = summarize_transcript(row["turns"], ctx.classifier, ctx.policy, ctx.extra.get("orders"), ctx.summarizer,
                                 where=f"{path.name} {row['id']}")
        facts = row.get("expected_facts", [])
        fields = row.get("expected_fields", {})
        coverage = M.fact_coverage(facts, s.paragraph)
        items.append({
            "id": row["id"], "question": next((t["text"] for t in row["turns"] if t["speaker"] == "customer"), ""),
            "summary": s.paragraph, "fields": s.fields, "ok": coverage == 1.0, "fact_coverage": coverage,
            "missing_facts": [f for f in facts if not M.fact_present(f, s.paragraph)],
            "rouge_l": M.rouge_l(s.paragraph, row["reference"]) if row.get("reference") else None,
            "intent_ok": (s.fields["intent"] == fields["intent"]) if "intent" in fields else None,
            "orders_ok": (sorted(s.fields["order_numbers"]) == sorted(fields["order_numbers"])) if "order_numbers" in fields else None,
            "words": len(s.paragraph.split()),
        })
        ctx.tick("summaries", n, len(rows))
    metrics = {
        "n": len(items),
        "key_fact_coverage": M.mean([i["fact_coverage"] for i in items]),
        "rouge_l": M.mean([i["rouge_l"] for i in items if i["rouge_l"] is not None]),
        "intent_accuracy": M.mean([float(i["intent_ok"]) for i in items if i["intent_ok"] is not None]),
        "order_numbers_exact": M.mean([float(i["orders_ok"]) for i in items if i["orders_ok"] is not None]),
        "words_mean": M.mean([i["words"] for i in items]),
        "pii_leaks": sum(1 for i in items if "@" in i["summary"]),
    }
    return SuiteResult("summaries", metrics, items, {}, dataset=path.name)
