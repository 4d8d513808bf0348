"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused, scores in [0, 1].

Fusion is a weighted sum of two absolute, bounded signals, so a score means the same thing
from one query to the next (the answerer's confidence builds on that):

* dense: cosine similarity of the query and the chunk (MiniLM vectors are normalised);
* lexical: BM25 squashed as s / (s + k), so a strong keyword match approaches 1.

Candidates are the union of the dense and lexical top-N; a candidate missing from one list gets
that list's lowest seen score (it ranked below all of them there).

An optional :class:`SourcePrior` (the store's learned "which document is this question about",
:mod:`triage.routing`) then adds ``prior_weight * P(source)`` and the sum is rescaled to [0, 1]:
a near tie goes to the document the question is about, a clearly better match still wins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import PurePath
from typing import Protocol

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from knowledge.index import KnowledgeIndex

DENSE_WEIGHT = 0.6
LEXICAL_SQUASH = 6.0
CANDIDATES = 24
PRIOR_WEIGHT = 0.3  # chosen on the dev questions of both the retrieval and the answers sets


def source_key(source: str) -> str:
    """A document as a source prior knows it: by file name, wherever its folder was ingested from."""
    return PurePath(str(source).replace("\\", "/")).name


class SourcePrior(Protocol):
    """P(document | question), keyed by document file name."""

    def applies_to(self, sources) -> bool: ...

    def probabilities(self, query: str, vector=None, vector_embedder=None) -> dict[str, float]: ...


@dataclass(frozen=True)
class SearchHit:
    source: str
    chunk_id: str
    title: str
    section: str
    score: float
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    prior: float | None = None  # P(this chunk's document | query) when a source prior is in use

    def public(self) -> dict:
        """The stable JSON shape of `triage search`."""
        return {"source": self.source, "chunk_id": self.chunk_id, "title": self.title,
                "score": round(self.score, 4), "text": self.text}

    def as_dict(self) -> dict:
        return asdict(self)


class HybridSearcher:
    def __init__(self, index: KnowledgeIndex, dense_weight: float = DENSE_WEIGHT,
                 lexical_squash: float = LEXICAL_SQUASH, candidates: int = CANDIDATES,
                 prior: SourcePrior | None = None, prior_weight: float = PRIOR_WEIGHT):
        self.index = index
        self.prior = prior
        self.prior_weight = prior_weight
        self._prior_for: tuple[int, bool] | None = None  # (catalog size, applies) of the last check
        self.dense_weight = dense_weight
        self.lexical_squash = lexical_squash
        self.candidates = candidates
        self.repair_typos = True
        self._checked = False

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        query = (query or "").strip()
        if not query:
            return []
        return self.search_with_vector(query, self.embed_query(query), k)

    def embed_query(self, query: str) -> np.ndarray:
        if not self._checked:
            self.index.check_searchable()
            self._checked = True
        return self.index.embedder.embed_query(self.dense_query(query))

    def dense_query(self, query: str) -> str:
        """The dense side reads the typo-repaired query too ("retrun" -> "return")."""
        lexical = self.index.lexical
        return lexical.normalizer.repair(query) if lexical and self.repair_typos else query

    def search_with_vector(self, query: str, qvec: np.ndarray, k: int = 5) -> list[SearchHit]:
        index = self.index
        chunks = index.chunks
        n = min(max(self.candidates, k), len(chunks))
        dense = dict(index.vectors.query(qvec, n)) if n else {}
        lex_scores = index.lexical.scores(query, self.repair_typos) if index.lexical else np.zeros(0)
        lexical: dict[str, float] = {}
        if lex_scores.size:
            top = np.argpartition(-lex_scores, min(n, lex_scores.size) - 1)[:n]
            lexical = {index.lexical.ids[i]: float(lex_scores[i]) for i in top if lex_scores[i] > 0}
        dense_floor = min(dense.values()) if dense else 0.0
        w = self.dense_weight
        hits = []
        for cid in dense.keys() | lexical.keys():
            chunk = chunks.get(cid)
            if chunk is None:  # vector without a catalog row (interrupted ingest): skip
                continue
            d = max(0.0, min(1.0, dense.get(cid, dense_floor)))
            s = lexical.get(cid, 0.0)
            lx = s / (s + self.lexical_squash)
            hits.append(SearchHit(chunk.source, cid, chunk.title, chunk.section, w * d + (1 - w) * lx, chunk.text, d, lx))
        if hits and self.prior_applies():
            p = self.prior.probabilities(query, qvec, index.embedder)
            pw = self.prior_weight
            fused = []
            for h in hits:
                q = p.get(source_key(h.source), 0.0)
                fused.append(replace(h, score=(h.score + pw * q) / (1 + pw), prior=q))
            hits = fused
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:k]

    def prior_applies(self) -> bool:
        """Whether the source prior knows every document in the index (checked again when the index changes)."""
        if self.prior is None or self.prior_weight <= 0:
            return False
        chunks = self.index.chunks
        if self._prior_for is None or self._prior_for[0] != len(chunks):
            self._prior_for = (len(chunks), self.prior.applies_to({c.source for c in chunks.values()}))
        return self._prior_for[1]


class HybridRetriever(BaseRetriever):
    """LangChain retriever over :class:`HybridSearcher`; metadata carries source, chunk_id, score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    searcher: HybridSearcher
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(page_content=h.text, id=h.chunk_id,
                     metadata={"source": h.source, "chunk_id": h.chunk_id, "title": h.title,
                               "section": h.section, "score": h.score})
            for h in self.searcher.search(query, self.k)
        ]
