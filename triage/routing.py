"""Which of the store's documents is a question about? P(source | question), a prior for retrieval.

Hybrid retrieval ranks chunks by how much they look like the question, and customers rarely use
the documents' words: "my dog chewed a hole in the tent, can i claim warranty" looks most like the
damaged-items page (it mentions warranty claims in passing), not the warranty terms; "can i
exchange the wool socks for an L" looks like the product-care table, which names the socks. A store
knows where such questions belong. This module learns it from labelled customer questions: a
logistic regression over the question's MiniLM vector (the one search just computed) plus word and
character n-grams, one class per document, trained on questions with the document that answers
them (and the knowledge base's own FAQ questions and headings, labelled with their document).

:class:`knowledge.retriever.HybridSearcher` adds ``weight * P(source)`` to each candidate chunk's
score, so a chunk of the document the question is about wins a near tie, while a much better
match elsewhere still ranks first. The router knows only the documents it was trained with: when
the index holds a document it has never seen, it steps aside (`applies_to`) until it is refitted
with ``triage train router``.

The fitted model for the sample store ships in the package (``triage/data/router.joblib``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.retriever import source_key
from triage.classifier import fit_vectorizers, text_features
from triage.fitted import load_fitted

EMBED_WEIGHT = 2.0


class SourceRouter:
    """P(document | question) over the documents it was trained with; reads local-embedder vectors."""

    def __init__(self, embedder, fitted: dict | None = None, path: Path | None = None):
        self.embedder = embedder
        self.fitted = fitted if fitted is not None else load_fitted(path, "router.joblib", "source router",
                                                                    "triage train router")
        self.sources = frozenset(self.fitted["head"].classes_)
        # `train confidence` reads the router on its own training questions: it sets this so that
        # they get the probabilities of a fold that never saw them, not optimistic in-sample ones
        self.out_of_fold = False

    def applies_to(self, sources) -> bool:
        """True when every document of the index is one the router was trained with."""
        keys = {source_key(s) for s in sources}
        return bool(keys) and keys <= self.sources

    def probabilities_many(self, texts: list[str], vectors=None) -> list[dict[str, float]]:
        if not texts:
            return []
        vectors = self.embedder.embed_documents(texts) if vectors is None else np.asarray(vectors)
        X = text_features(texts, vectors, self.fitted["word"], self.fitted["char"], EMBED_WEIGHT)
        head = self.fitted["head"]
        return [dict(zip(head.classes_, map(float, row))) for row in head.predict_proba(X)]

    def probabilities(self, query: str, vector=None, vector_embedder=None) -> dict[str, float]:
        """P(source) for one question. ``vector`` is reused only when it came from our embedder."""
        if self.out_of_fold and query in self.fitted.get("out_of_fold", {}):
            return dict(self.fitted["out_of_fold"][query])
        if vector is not None and vector_embedder is not None and vector_embedder is not self.embedder:
            vector = None
        return self.probabilities_many([query], None if vector is None else np.asarray([vector]))[0]


def fit(texts: list[str], sources: list[str], vectors: np.ndarray, C: float = 2.0) -> dict:
    from sklearn.linear_model import LogisticRegression

    labels = [source_key(s) for s in sources]
    if len(set(labels)) < 2:
        from triage.errors import InvalidInputError

        raise InvalidInputError("router training needs questions about at least two documents")
    word, char = fit_vectorizers(texts)
    head = LogisticRegression(C=C, max_iter=3000).fit(text_features(texts, vectors, word, char, EMBED_WEIGHT), labels)
    return {"word": word, "char": char, "head": head, "version": 1, "rows": len(texts)}


def cross_validated(texts: list[str], sources: list[str], vectors: np.ndarray, C: float = 2.0,
                    folds: int = 5) -> list[dict[str, float]]:
    """P(source) for every question from a model fitted on the other folds: how the router does on
    questions it has not seen."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.array([source_key(s) for s in sources])
    smallest = min(int((labels == label).sum()) for label in set(labels))
    out: list[dict[str, float]] = [{} for _ in texts]
    for train, test in StratifiedKFold(max(2, min(folds, smallest)), shuffle=True, random_state=0).split(texts, labels):
        model = SourceRouter(None, fit([texts[i] for i in train], labels[train].tolist(), vectors[train], C))
        for i, p in zip(test, model.probabilities_many([texts[i] for i in test], vectors[test])):
            out[i] = p
    return out
