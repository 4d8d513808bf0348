"""Incremental ingestion against the real embedder, Chroma and SQLite catalog."""

from __future__ import annotations

import pytest

from knowledge.index import KnowledgeIndex
from knowledge.ingest import Ingestor
from knowledge.retriever import HybridSearcher


class CountingEmbedder:
    """The real local embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = inner.model_id
        self.embedded = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture
def kb(tmp_path, embedder):
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\nYou can return unworn items within 30 days of delivery.\n")
    (docs / "shipping.md").write_text("# Shipping\n\nStandard shipping takes 5-7 business days and costs $5.95.\n")
    counting = CountingEmbedder(embedder)
    index = KnowledgeIndex(tmp_path / "data", counting)
    return docs, index, counting


def test_unchanged_files_are_skipped_by_hash_and_changed_ones_replaced(kb):
    docs, index, counting = kb
    ing = Ingestor(index)
    first = ing.ingest([str(docs)])
    assert sorted(first.added) == [f"{docs}/returns.md", f"{docs}/shipping.md"]
    embedded = counting.embedded

    again = ing.ingest([str(docs)])
    assert again.added == [] and again.updated == [] and len(again.unchanged) == 2
    assert counting.embedded == embedded  # nothing re-embedded

    (docs / "returns.md").write_text("# Returns\n\nReturns are accepted within 45 days, tags attached.\n")
    changed = ing.ingest([str(docs)])
    assert changed.updated == [f"{docs}/returns.md"] and len(changed.unchanged) == 1
    hits = HybridSearcher(index).search("how many days to return", k=5)
    texts = " ".join(h.text for h in hits)
    assert "45 days" in texts and "30 days" not in texts
    assert index.vectors.count() == index.catalog.count_chunks()


def test_prune_removes_sources_that_disappeared(kb):
    docs, index, _ = kb
    ing = Ingestor(index)
    ing.ingest([str(docs)])
    (docs / "shipping.md").unlink()
    kept = ing.ingest([str(docs)])
    assert kept.removed == [] and f"{docs}/shipping.md" in index.catalog.sources()
    pruned = ing.ingest([str(docs)], prune=True)
    assert pruned.removed == [f"{docs}/shipping.md"]
    assert list(index.catalog.sources()) == [f"{docs}/returns.md"]
    assert all(h.source.endswith("returns.md") for h in HybridSearcher(index).search("shipping cost", k=5))


def test_a_bad_file_is_reported_and_never_blocks_or_loses_anything(kb):
    docs, index, _ = kb
    ing = Ingestor(index)
    ing.ingest([str(docs)])
    (docs / "returns.md").write_bytes("# Returns\n\ncaf\u00e9".encode("latin-1"))  # now broken
    (docs / "gift-cards.md").write_text("# Gift cards\n\nGift cards never expire.\n")
    (docs / "notes.docx").write_bytes(b"PK\x03\x04")
    report = ing.ingest([str(docs), str(docs / "missing.md")])
    failed = {e.source: e.problem for e in report.failed}
    assert set(failed) == {f"{docs}/returns.md", f"{docs}/notes.docx", f"{docs}/missing.md"}
    assert "UTF-8" in failed[f"{docs}/returns.md"] and "does not exist" in failed[f"{docs}/missing.md"]
    assert report.added == [f"{docs}/gift-cards.md"] and not report.ok
    # the last good version of the broken file is still indexed and findable
    hits = HybridSearcher(index).search("return window days", k=3)
    assert hits[0].source == f"{docs}/returns.md" and "30 days" in hits[0].text
    # pruning never removes a source whose file failed to load
    assert f"{docs}/returns.md" not in ing.ingest([str(docs)], prune=True).removed


def test_sources_keep_the_path_as_given(tmp_path, embedder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("# A\n\nAlpha text.\n")
    index = KnowledgeIndex(tmp_path / "data", embedder)
    report = Ingestor(index).ingest(["./kb/"])
    assert report.added == ["kb/a.md"]


def test_changing_the_embedder_reembeds_everything(kb, embedder):
    docs, index, _ = kb
    Ingestor(index).ingest([str(docs)])

    class Renamed(CountingEmbedder):
        pass

    other = Renamed(embedder)
    other.model_id = "another-model"
    index2 = KnowledgeIndex(index.data_dir, other)
    report = Ingestor(index2).ingest([str(docs)])
    assert len(report.updated) == 2 and other.embedded > 0
