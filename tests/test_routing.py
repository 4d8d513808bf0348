"""The source router (which document is a question about?) and how search uses it, with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.retriever import HybridSearcher, source_key
from triage.routing import SourceRouter


def _doc(hit) -> str:
    return Path(hit.source).name


@pytest.mark.parametrize("question, document", [
    ("my dog chewed a hole in the tent, can i claim warranty", "warranty.pdf"),
    ("if u replace my tent under warranty do i get a fresh 2 years", "warranty.pdf"),
    ("the wool socks are too small can i exchange them for L", "exchanges.html"),
    ("whats the point of making an account vs guest", "accounts.txt"),
])
def test_shipped_router_knows_where_customer_questions_belong(router, question, document):
    p = router.probabilities(question)
    assert max(p, key=p.get) == document, sorted(p.items(), key=lambda kv: -kv[1])[:3]
    assert sum(p.values()) == pytest.approx(1.0)


def test_search_with_the_router_ranks_the_document_the_question_is_about_first(sample_index, router):
    question = "my dog chewed a hole in the tent, can i claim warranty"
    plain = HybridSearcher(sample_index).search(question, k=5)
    routed = HybridSearcher(sample_index, prior=router).search(question, k=5)
    assert _doc(plain[0]) != "warranty.pdf"  # what hybrid scores alone get wrong
    assert _doc(routed[0]) == "warranty.pdf"
    assert all(0.0 <= h.score <= 1.0 and h.prior is not None for h in routed)
    assert all(h.prior is None for h in plain)
    assert [h.score for h in routed] == sorted((h.score for h in routed), reverse=True)


def test_a_clearly_better_match_still_beats_the_prior(searcher):
    hits = searcher.search("Trail Rewards Summit tier perks", k=3)
    assert _doc(hits[0]) == "promotions-and-rewards.md"


def test_router_steps_aside_for_an_index_with_documents_it_never_saw(router):
    known = sorted(router.sources)
    assert router.applies_to([f"some/where/{d}" for d in known])
    assert not router.applies_to(known + ["new-policy.md"])
    assert not router.applies_to([])


def test_source_keys_are_file_names_wherever_the_folder_was():
    assert source_key("knowledge/sample_store/docs/faq.json") == "faq.json"
    assert source_key("C:\\shop\\docs\\faq.json") == "faq.json"


def test_train_router_cli_fits_a_model_search_can_use(cli, tmp_path, embedder, monkeypatch):
    rows = [
        {"user_input": "how much is shipping to texas", "expected_sources": ["shipping-domestic.md"]},
        {"user_input": "when does my package arrive in ohio", "expected_sources": ["shipping-domestic.md", "faq.json"]},
        {"user_input": "can i send back boots i wore once", "expected_sources": ["returns-policy.md"]},
        {"user_input": "is there a deadline to return a jacket", "expected_sources": ["returns-policy.md"]},
        {"user_input": "my tent pole snapped after a year", "expected_sources": ["warranty.pdf"], "split": "heldout"},
        {"user_input": "whats the capital of peru", "in_scope": False},
    ]
    data = tmp_path / "router.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "router.joblib"
    code, _, err = cli("train", "router", "--dataset", str(data), "--out", str(out))
    assert code == 0, err
    assert "5-fold top-1 accuracy" in err and "about 18 documents" in err
    model = SourceRouter(embedder, path=out)
    assert "my tent pole snapped after a year" not in model.fitted["out_of_fold"]  # held-out rows are skipped
    p = model.probabilities("how much does shipping to texas cost")
    assert max(p, key=p.get) == "shipping-domestic.md"


def test_the_cli_searches_with_the_router_unless_its_weight_is_zero(cli, monkeypatch):
    assert cli("ingest", "--sample")[0] == 0
    question = "my dog chewed a hole in the tent, can i claim warranty"
    code, out, err = cli("search", question, "--json")
    assert code == 0, err
    assert json.loads(out)["results"][0]["source"].endswith("warranty.pdf")
    monkeypatch.setenv("TRIAGE_SOURCE_PRIOR_WEIGHT", "0")
    code, out, err = cli("search", question, "--json")
    assert code == 0, err
    assert json.loads(out)["results"][0]["source"].endswith("damaged-or-wrong-items.md")


def test_ingesting_a_document_the_router_never_saw_says_how_to_retrain(cli, tmp_path, monkeypatch):
    import shutil

    from tests.conftest import SAMPLE_DOCS

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    code, _, err = cli("ingest", str(docs))
    assert code == 0, err
    assert "source router" not in err  # it knows every sample document
    (docs / "gift-wrapping.md").write_text("# Gift wrapping\n\nWe wrap any order for $5 and add a card.\n")
    code, _, err = cli("ingest", str(docs))
    assert code == 0, err
    assert "trained without gift-wrapping.md" in err and "triage train router" in err
    code, out, err = cli("search", "can you gift wrap my order", "--json")
    assert code == 0, err
    hits = json.loads(out)["results"]
    assert hits[0]["source"].endswith("gift-wrapping.md")  # search goes on, without the prior
