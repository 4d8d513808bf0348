"""The HTML eval report: one self-contained file, every chart kind drawn, all text escaped."""

from __future__ import annotations

import math
import re
from pathlib import Path

from evals.report import render_html, write_html

EVIL = "<script>alert('x')</script>"


def synthetic_record() -> dict:
    latencies = [5.0 + (i % 17) * 3.1 for i in range(80)] + [450.0, 900.0, 2400.0]
    return {
        "created_at": "2026-01-02T03:04:05+00:00",
        "config": {"split": "all", "suites": ["retrieval", "answers", "triage", "summaries"], "llm": False,
                   "note": EVIL},
        "suites": {
            "retrieval": {
                "suite": "retrieval", "dataset": "retrieval.jsonl",
                "metrics": {"n": 2, "hit@1": 0.5, "mrr": 0.75, "context_recall": None},
                "items": [
                    {"id": "r1", "ok": True, "question": "where is my order", "expected": ["order-tracking.md"], "rank": 1,
                     "retrieved": [{"source": "docs/order-tracking.md", "score": 0.9, "text": "Track it."}]},
                    {"id": "r2", "ok": False, "question": f"refund {EVIL}", "expected": ["returns-policy.md"], "rank": None,
                     "retrieved": [{"source": "docs/shipping.md", "score": 0.41234, "text": "x" * 500 + "TAIL-NOT-SHOWN"},
                                   {"source": "docs/faq.json", "score": 0.3, "text": f"faq {EVIL}"}]},
                ],
                "charts": {"latency_ms": latencies},
            },
            "answers": {
                "suite": "answers", "dataset": "answers.jsonl",
                "metrics": {"n": 3, "answered_right": 0.6667, "ece": float("nan"), "citation_accuracy": None},
                "items": [
                    {"id": "a1", "ok": False, "question": "do you ship to mars", "in_scope": False, "answer": f"Yes {EVIL}",
                     "abstained": False, "confidence": 0.61, "citations": ["docs/shipping.md"], "expected": [],
                     "absent_sentences": ["Yes we ship to mars."]},
                    {"id": "a2", "ok": True, "question": "return window", "in_scope": True, "answer": "30 days",
                     "abstained": False, "confidence": 0.9, "citations": ["docs/returns.md"], "expected": ["returns.md"],
                     "absent_sentences": []},
                ],
                "charts": {
                    "reliability": [
                        {"lo": 0.0, "hi": 0.1, "n": 4, "confidence": 0.05, "accuracy": 0.0},
                        {"lo": 0.5, "hi": 0.6, "n": 10, "confidence": 0.55, "accuracy": 0.4},
                        {"lo": 0.9, "hi": 1.0, "n": 7, "confidence": 0.97, "accuracy": 1.0},
                    ],
                    "latency_ms": [12.0, 15.5, 20.0, 22.0, 30.0],
                },
            },
            "triage": {
                "suite": "triage", "dataset": "triage.jsonl",
                "metrics": {"n": 6, "macro_f1": 0.5, "per_label": {"billing": 1.0}},
                "items": [{"id": "t1", "ok": False, "message": "charged twice", "gold": "billing", "predicted": "shipping"}],
                "charts": {
                    "confusion": {"labels": ["billing", "shipping", f"<b>{EVIL}"],
                                  "matrix": [[3, 1, 0], [0, 1, 0], [0, 0, 1]]},
                    "confusion_priority": {"labels": ["low", "high"], "matrix": [[2, 1], [0, 3]]},
                    "latency_ms": [1.0, 2.0, 3.0],
                },
            },
            "summaries": {
                "suite": "summaries", "dataset": "summaries.jsonl",
                "metrics": {"n": 1, "fact_coverage": None},
                "items": [{"id": "s1", "ok": False, "summary": "Customer wants a refund.", "missing_facts": ["order #123"]}],
                "charts": {},
            },
        },
    }


def test_write_html_writes_one_file(tmp_path: Path):
    out = write_html(synthetic_record(), tmp_path / "run")
    assert out == tmp_path / "run" / "report.html"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["report.html"]
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_self_contained_no_outside_resources():
    html = render_html(synthetic_record())
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert "<link rel=\"stylesheet\"" not in html and "<script" not in html
    assert "<style>" in html


def test_all_text_escaped():
    html = render_html(synthetic_record())
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>&lt;script" not in html  # a label with markup stays text in the confusion table
    assert "&lt;b&gt;" in html


def test_null_and_nan_metrics_are_unmeasured_not_zero():
    html = render_html(synthetic_record())
    rows = dict(re.findall(r"<tr><th>([^<]+)</th><td>(.*?)</td></tr>", html))
    assert "unmeasured" in rows["context_recall"]
    assert "unmeasured" in rows["ece"]
    assert "unmeasured" in rows["citation_accuracy"]
    assert "unmeasured" in rows["fact_coverage"]
    assert rows["hit@1"] == "0.5000"


def test_charts_are_inline_svg_and_tables():
    html = render_html(synthetic_record())
    assert html.count("<svg") == 4  # reliability + three latency histograms
    assert 'aria-label="reliability diagram"' in html
    assert '<line class="diag"' in html  # the perfect-calibration diagonal
    assert html.count('<table class="confusion">') == 2
    assert "confusion_priority" in html
    assert "gold ↓ / predicted →" in html
    assert "p50 " in html and "p95 " in html
    # answers' latencies [12, 15.5, 20, 22, 30]: linear-interpolated p50 20, p95 28.4
    assert "p50 20.0 ms · p95 28.4 ms" in html


def test_failures_show_expected_and_what_came_back():
    html = render_html(synthetic_record())
    assert "failures: 1 of 2" in html
    assert "shipping.md" in html and "0.412" in html  # retrieved source with score
    assert "TAIL-NOT-SHOWN" not in html  # retrieved text cut to ~200 chars
    assert "expected source not retrieved" in html
    assert "out of scope" in html and "Yes we ship to mars." in html
    assert "0.6100" in html  # confidence of the failed answer
    assert "order #123" in html and "Customer wants a refund." in html  # generic suite
    assert "charged twice" in html and "predicted" in html
    # passing items are not listed as failures
    assert "return window" not in html


def test_empty_and_malformed_charts_do_not_break_the_report():
    record = {"created_at": "x", "config": {}, "suites": {
        "odd": {"suite": "odd", "dataset": "", "metrics": {"v": math.inf}, "items": [],
                "charts": {"confusion": {"labels": ["a"], "matrix": [[1, 2]]}, "latency_ms": [],
                           "reliability": [], "something_else": [1, 2]}}}}
    html = render_html(record)
    assert "cannot draw" in html and "no samples" in html and "not drawn: something_else" in html
    assert "unmeasured" in html
