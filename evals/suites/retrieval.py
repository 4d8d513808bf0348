"""Retrieval: does the right document come back for questions in customers' words?"""

from __future__ import annotations

import time
from pathlib import Path

from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl, select_split
from evals.suites import EvalContext, SuiteResult

DATASET = "retrieval.jsonl"


def run(ctx: EvalContext, dataset: Path | None = None) -> SuiteResult:
    path = Path(dataset or default_dataset(DATASET))
    rows = [r for r in select_split(load_jsonl(path, ("id",)), ctx.split) if r.get("expected_sources")]
    items, latencies = [], []
    for n, row in enumerate(rows, 1):
        question = row.get("user_input") or row.get("query") or row.get("question") or ""
        t0 = time.perf_counter()
        hits = ctx.searcher.search(question, ctx.k)
        latencies.append((time.perf_counter() - t0) * 1000)
        sources = [h.source for h in hits]
        expected = row["expected_sources"]
        rank = M.first_hit_rank(sources, expected)
        items.append({
            "id": row["id"], "split": row.get("split", ""), "question": question, "expected": expected,
            "rank": rank, "ok": rank == 1, "retrieved": [{"source": h.source, "score": round(h.score, 4),
                                                         "text": h.text[:240]} for h in hits],
            "context_precision": M.context_precision(sources, expected),
            "context_recall": M.context_recall(sources, expected),
        })
        ctx.tick("retrieval", n, len(rows))
    ranks = [i["rank"] for i in items]
    metrics = {
        "n": len(items),
        "hit@1": M.mean([M.hit_at(r, 1) for r in ranks]),
        "hit@5": M.mean([M.hit_at(r, 5) for r in ranks]),
        "mrr": M.mean([M.reciprocal_rank(r) for r in ranks]),
        "context_precision": M.mean([i["context_precision"] for i in items]),
        "context_recall": M.mean([i["context_recall"] for i in items]),
    }
    return SuiteResult("retrieval", metrics, items, {"latency_ms": latencies}, dataset=path.name)
