"""Latency of each step a customer waits for: search, answer, classify, a whole turn (p50/p95)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl
from evals.suites import EvalContext, SuiteResult

DATASET = "retrieval.jsonl"
REPEATS = 1


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1000


def run(ctx: EvalContext, dataset: Path | None = None) -> SuiteResult:
    from triage.clock import FixedClock
    from triage.conversation import InMemoryConversationStore

    path = Path(dataset or default_dataset(DATASET))
    questions = [r.get("user_input") or r.get("question") or r.get("query") for r in load_jsonl(path)]
    questions = [q for q in questions if q][:100]
    for q in questions[:3]:  # warm up every path
        ctx.searcher.search(q, ctx.k), ctx.answerer.answer(q), ctx.classifier.classify(q)
    assistant = ctx.conversation_factory(clock=FixedClock(datetime.fromisoformat("2026-11-24T10:00:00-05:00")),
                                         store=InMemoryConversationStore())
    series: dict[str, list[float]] = {"search": [], "answer": [], "classify": [], "turn": []}
    for n, q in enumerate(questions, 1):
        series["search"].append(_timed(ctx.searcher.search, q, ctx.k))
        series["answer"].append(_timed(ctx.answerer.answer, q))
        series["classify"].append(_timed(ctx.classifier.classify, q))
        series["turn"].append(_timed(assistant.handle, f"lat-{n}", q))
        ctx.tick("latency", n, len(questions))
    metrics: dict[str, float] = {"n": len(questions)}
    for name, xs in series.items():
        metrics[f"{name}_p50_ms"] = M.percentile(xs, 50)
        metrics[f"{name}_p95_ms"] = M.percentile(xs, 95)
    charts = {f"latency_{name}_ms": xs for name, xs in series.items()}
    return SuiteResult("latency", metrics, [], charts, dataset=path.name)
