"""Triage: classification and handoff decisions on labelled messages, and multi-turn conversations
replayed through the real turn pipeline with a fixed clock."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl, select_split
from evals.suites import EvalContext, SuiteResult

MESSAGES = "messages_heldout.jsonl"
CONVERSATIONS = "conversations.jsonl"
PLAIN_INTENTS = {"order_status", "shipping", "returns", "refund", "cancel_or_change_order", "payment_or_billing_issue",
                 "damaged_or_wrong_item", "product_question", "promotions_and_gift_cards", "account"}
REASONS = ("human_request", "frustration", "high_stakes")


def run(ctx: EvalContext, dataset: Path | None = None) -> SuiteResult:
    metrics, items, charts = {}, [], {}
    if dataset is None or "message" in load_jsonl(Path(dataset))[0]:
        m, i, c = _messages(ctx, Path(dataset or default_dataset(MESSAGES)))
        metrics.update(m), items.extend(i), charts.update(c)
    if dataset is None or "turns" in load_jsonl(Path(dataset))[0]:
        m, i, c = _conversations(ctx, Path(dataset or default_dataset(CONVERSATIONS)))
        metrics.update(m), items.extend(i), charts.update(c)
    name = Path(dataset).name if dataset else f"{MESSAGES} + {CONVERSATIONS}"
    return SuiteResult("triage", metrics, items, charts, dataset=name)


def _messages(ctx: EvalContext, path: Path):
    from triage.assistant import first_message_facts
    from triage.classifier import INTENTS, SENTIMENTS

    rows = load_jsonl(path, ("id", "message"))
    rows = select_split(rows, ctx.split) if any("split" in r for r in rows) else rows
    classified = ctx.classifier.classify_many([r["message"] for r in rows])
    items = []
    for n, (row, cls) in enumerate(zip(rows, classified), 1):
        d = ctx.policy.decide(first_message_facts(cls, row["message"], ctx.extra.get("orders")))
        codes = {r.code for r in d.reasons}
        expected = bool(row.get("expected_handoff"))
        items.append({"id": row["id"], "question": row["message"], "expected_handoff": expected, "handoff": d.handoff,
                      "ok": d.handoff == expected and cls.intent == row.get("intent", cls.intent),
                      "intent": cls.intent, "expected_intent": row.get("intent"), "sentiment": cls.sentiment,
                      "expected_sentiment": row.get("sentiment"), "reasons": sorted(codes), "gold": row})
        ctx.tick("triage messages", n, len(rows))
    tp = sum(i["handoff"] and i["expected_handoff"] for i in items)
    fp = sum(i["handoff"] and not i["expected_handoff"] for i in items)
    fn = sum(not i["handoff"] and i["expected_handoff"] for i in items)
    p, r, f = M.precision_recall_f1(tp, fp, fn)
    negatives = [i for i in items if not i["expected_handoff"]]
    plain = [i for i in negatives if i["gold"].get("intent") in PLAIN_INTENTS]

    def recall(pred) -> float:
        gold = [i for i in items if pred(i["gold"])]
        return M.mean([float(i["handoff"]) for i in gold]) if gold else float("nan")

    metrics = {
        "messages": len(items),
        "handoff_precision": p, "handoff_recall": r, "handoff_f1": f,
        "false_handoff_rate": M.mean([float(i["handoff"]) for i in negatives]) if negatives else float("nan"),
        "false_handoff_plain_questions": M.mean([float(i["handoff"]) for i in plain]) if plain else float("nan"),
        "human_request_recall": recall(lambda g: g.get("human_request")),
        "recall_human_request": recall(lambda g: g.get("human_request")),
        "recall_frustration": recall(lambda g: g.get("frustrated")),
        "recall_high_stakes": recall(lambda g: g.get("high_stakes")),
        "sentiment_macro_f1": M.macro_f1([i["expected_sentiment"] for i in items], [i["sentiment"] for i in items], SENTIMENTS),
        "intent_accuracy": M.mean([float(i["intent"] == i["expected_intent"]) for i in items]),
        "intent_macro_f1": M.macro_f1([i["expected_intent"] for i in items], [i["intent"] for i in items], INTENTS),
    }
    for i in items:
        i.pop("gold")
    charts = {
        "confusion_intent": {"labels": list(INTENTS), "matrix": M.confusion_matrix(
            [i["expected_intent"] for i in items], [i["intent"] for i in items], INTENTS)},
        "confusion_handoff": {"labels": ["no handoff", "handoff"], "matrix": [[len(negatives) - fp, fp], [fn, tp]]},
        "confusion_sentiment": {"labels": list(SENTIMENTS), "matrix": M.confusion_matrix(
            [i["expected_sentiment"] for i in items], [i["sentiment"] for i in items], SENTIMENTS)},
    }
    return metrics, items, charts


def _conversations(ctx: EvalContext, path: Path):
    from triage.clock import FixedClock
    from triage.conversation import InMemoryConversationStore

    rows = load_jsonl(path, ("id", "turns"))
    items, latencies = [], []
    for n, row in enumerate(rows, 1):
        clock = FixedClock(datetime.fromisoformat(row.get("now", "2026-11-24T10:00:00-05:00")))
        assistant = ctx.conversation_factory(clock=clock, store=InMemoryConversationStore())
        handoff_turn, reasons, summary = None, [], None
        for t, text in enumerate(row["turns"]):
            t0 = time.perf_counter()
            res = assistant.handle(row["id"], text, customer=row.get("customer"))
            latencies.append((time.perf_counter() - t0) * 1000)
            if handoff_turn is None and res.summary is not None:
                handoff_turn, reasons, summary = t, [r.code for r in res.decision.reasons], res.summary
            clock.advance(seconds=40)
        state = assistant.store.get(row["id"]).state
        expected_turn = row.get("expected_handoff_turn")
        expected_reasons = row.get("expected_reasons", [])
        facts = row.get("expected_summary_facts", [])
        coverage = M.fact_coverage(facts, summary.paragraph) if summary and facts else None
        items.append({
            "id": row["id"], "question": " | ".join(row["turns"])[:300], "expected_turn": expected_turn,
            "handoff_turn": handoff_turn, "expected_reasons": expected_reasons, "reasons": reasons,
            "expected_state": row.get("expected_state"), "state": state.value,
            "ok": handoff_turn == expected_turn and (not expected_reasons or bool(set(reasons) & set(expected_reasons))),
            "summary": summary.paragraph if summary else None, "fact_coverage": coverage,
            "missing_facts": [f for f in facts if summary and not M.fact_present(f, summary.paragraph)],
        })
        ctx.tick("triage conversations", n, len(rows))
    with_handoff = [i for i in items if i["expected_turn"] is not None]
    without = [i for i in items if i["expected_turn"] is None]
    reason_hits = {}
    for code in ("human_request", "three_strikes", "frustration", "high_stakes", "vip_or_large_order", "repeated_question"):
        rel = [i for i in items if code in i["expected_reasons"]]
        if rel:
            reason_hits[f"conv_recall_{code}"] = M.mean([float(code in i["reasons"]) for i in rel])
    covered = [i["fact_coverage"] for i in items if i["fact_coverage"] is not None]
    metrics = {
        "conversations": len(items),
        "conv_handoff_turn_accuracy": M.mean([float(i["handoff_turn"] == i["expected_turn"]) for i in items]),
        "conv_handoff_recall": M.mean([float(i["handoff_turn"] is not None) for i in with_handoff]) if with_handoff else float("nan"),
        "conv_false_handoff_rate": M.mean([float(i["handoff_turn"] is not None) for i in without]) if without else float("nan"),
        "conv_state_accuracy": M.mean([float(i["state"] == i["expected_state"]) for i in items if i["expected_state"]]),
        **reason_hits,
        "conv_summary_fact_coverage": M.mean(covered) if covered else float("nan"),
    }
    return metrics, items, {"latency_turn_ms": latencies}
