"""The eval harness as a team uses it: gates, comparison, determinism, clear errors, the judge."""

from __future__ import annotations

import json
import shutil

import pytest

from evals import metrics as M
from evals.runner import check_thresholds, compare_runs
from tests.conftest import SAMPLE_DOCS


def test_metrics_basics():
    assert M.first_hit_rank(["a/x.md", "b/returns.md"], ["returns.md"]) == 2
    assert M.reciprocal_rank(2) == 0.5 and M.hit_at(2, 1) == 0.0
    assert M.fact_present("5-10 business days", "Banks take 5-10 Business  days to post.")
    assert not M.fact_present("$6.50", "a $5.95 fee")
    assert M.token_f1("the cat sat", "the cat sat") == 1.0 and M.rouge_l("a b c d", "a c d") > 0.8
    assert M.expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, True, False, False]) == pytest.approx(0.1)
    assert M.macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert M.confusion_matrix(["a", "b", "b"], ["a", "a", "b"], ["a", "b"]) == [[1, 0], [1, 1]]


def _record(metrics: dict, items: list | None = None) -> dict:
    return {"suites": {"retrieval": {"metrics": metrics, "items": items or []}}}


def test_gate_names_what_it_missed_and_unmeasured_fails(tmp_path):
    t = tmp_path / "t.toml"
    t.write_text('[retrieval]\n"hit@1" = { min = 0.9 }\nmrr = { min = 0.5 }\nlatency = { max = 10 }\n')
    failures = check_thresholds(_record({"hit@1": 0.8, "mrr": None, "latency": 5}), t)
    assert [str(f) for f in failures] == ["retrieval.hit@1 = 0.8000, required >= 0.9",
                                          "retrieval.mrr = unmeasured, required >= 0.5"]


def test_compare_shows_deltas_and_changed_questions():
    a = _record({"hit@1": 0.9}, [{"id": "q1", "ok": True, "question": "where is my order"}, {"id": "q2", "ok": True}])
    b = _record({"hit@1": 0.8}, [{"id": "q1", "ok": False, "question": "where is my order"}, {"id": "q2", "ok": True}])
    diff = compare_runs(a, b)
    assert diff["deltas"] == [{"suite": "retrieval", "metric": "hit@1", "a": 0.9, "b": 0.8, "delta": pytest.approx(-0.1)}]
    assert [c["id"] for c in diff["changed"]] == ["q1"]


@pytest.fixture
def kb(tmp_path):
    shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    return tmp_path / "docs"


def test_broken_knowledge_base_fails_the_gate_and_compare_shows_the_regression(cli, kb, tmp_path):
    assert cli("ingest", "docs")[0] == 0
    code, out, err = cli("eval", "retrieval", "--out", "good")
    assert code == 0, err
    good = json.loads((tmp_path / "good" / "run.json").read_text())
    assert (tmp_path / "good" / "report.html").exists()

    # a broken knowledge base: the returns and refunds pages are gone
    (kb / "returns-policy.md").unlink()
    (kb / "refunds.md").unlink()
    assert cli("ingest", "docs", "--prune")[0] == 0
    code, out, err = cli("eval", "retrieval", "--out", "broken")
    assert code == 1
    assert "gate failed: retrieval.hit@" in err and "required >=" in err

    code, out, _ = cli("eval", "compare", "good", "broken")
    assert code == 0 and "hit@1" in out and "questions whose outcome changed" in out
    broken = json.loads((tmp_path / "broken" / "run.json").read_text())
    assert broken["suites"]["retrieval"]["metrics"]["hit@1"] < good["suites"]["retrieval"]["metrics"]["hit@1"]


def test_two_runs_give_identical_metrics(cli, kb, tmp_path):
    assert cli("ingest", "docs")[0] == 0
    for run in ("r1", "r2"):
        assert cli("eval", "retrieval", "answers", "summaries", "--split", "heldout", "--no-gate", "--out", run)[0] == 0
    a = json.loads((tmp_path / "r1" / "run.json").read_text())["suites"]
    b = json.loads((tmp_path / "r2" / "run.json").read_text())["suites"]
    assert {k: v["metrics"] for k, v in a.items()} == {k: v["metrics"] for k, v in b.items()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "nonsense"), "unknown suite(s) nonsense"),
        (("eval", "compare", "a"), "usage: triage eval compare RUN_A RUN_B"),
        (("eval", "compare", "nope1", "nope2"), "no eval run at nope1"),
        (("eval", "retrieval", "answers", "--dataset", "x.jsonl"), "--dataset applies to one suite"),
        (("eval", "retrieval", "--dataset", "missing.jsonl"), "dataset missing.jsonl does not exist"),
        (("eval", "answers", "--llm-judge"), "--llm-judge needs an LLM"),
        (("eval", "retrieval", "--split", "train"), "--split must be dev, heldout or all"),
    ],
)
def test_eval_bad_input_is_explained(cli, args, message):
    code, _, err = cli(*args)
    assert code != 0 and message in err


def test_judge_records_failures_as_unmeasured_and_reports_spread(llm_server):
    from evals.judge import Judge
    from triage.llm import OpenAIChatModel

    judge = Judge(OpenAIChatModel("judge", base_url=llm_server.base_url, api_key="x", timeout=2.0), runs=3)
    llm_server.enqueue('{"faithfulness": 1.0, "relevance": 0.8}', "not json at all", '{"faithfulness": 0.5, "relevance": 0.6}')
    g = judge.grade("q", ["ctx"], "answer")
    assert g["judge_measured"] == 2 and g["faithfulness"] == 0.75 and g["faithfulness_spread"] == 0.5
    llm_server.enqueue_error(500)
    llm_server.enqueue_error(500)
    llm_server.enqueue_error(500)
    g = judge.grade("q", ["ctx"], "answer")
    assert g["judge_measured"] == 0 and g["faithfulness"] is None and g["relevance"] is None


def test_classify_and_summarize_batch_contracts(cli, tmp_path):
    (tmp_path / "m.jsonl").write_text(
        '{"id": "a", "message": "where is my order JP-10234"}\n'
        '{"id": "b", "message": "I want to talk to a real person NOW, this is the third time!!!"}\n')
    code, out, err = cli("classify", "--batch", "m.jsonl")
    assert code == 0, err
    rows = [json.loads(x) for x in out.splitlines()]
    assert set(rows[0]) == {"id", "intent", "sentiment", "frustration", "handoff", "reasons", "priority"}
    assert set(rows[0]["sentiment"]) == {"label", "score"} and rows[0]["handoff"] is False
    assert rows[1]["handoff"] is True and {"human_request", "frustration"} <= {r["code"] for r in rows[1]["reasons"]}
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": 1, "turns": [
        {"speaker": "customer", "text": "my jacket JP-10234 arrived torn, email me at a@b.com"},
        {"speaker": "bot", "text": "Sorry! Let me get a person."}]}) + "\n")
    code, out, err = cli("summarize", "--batch", "s.jsonl")
    assert code == 0, err
    row = json.loads(out)
    assert row["id"] == 1 and "JP-10234" in row["summary"] and "a@b.com" not in out
    assert {"issue", "intent", "order_numbers", "escalation_reasons", "next_step", "priority"} <= set(row["fields"])
    (tmp_path / "bad.jsonl").write_text('{"id": 1, "turns": [{"speaker": "robot", "text": "x"}]}\n')
    code, _, err = cli("summarize", "--batch", "bad.jsonl")
    assert code == 1 and 'turn 0 needs "speaker"' in err


def test_orders_import_is_all_or_nothing_with_a_line_number(cli, tmp_path):
    bad = tmp_path / "o.csv"
    bad.write_text("order_number,email,zip,status\nJP-1,a@b.com,1,shipped\nJP-2,a@b.com,1,teleported\n")
    code, _, err = cli("orders", "import", str(bad))
    assert code == 1 and "line 3: status 'teleported'" in err
    good = tmp_path / "g.csv"
    good.write_text("order_number,email,zip,status\nJP-12345,a@b.com,04101,shipped\n")
    code, _, err = cli("orders", "import", str(good))
    assert code == 0 and "imported 1 orders" in err
