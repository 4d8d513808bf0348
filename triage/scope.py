"""Is this message something the store's documents are about? P(in scope) for the answer's confidence.

Retrieval always returns *something*: "what's the weather in portland tomorrow" lands on the
contact page, "how long does etsy take to refund" on the refunds FAQ. Word overlap cannot tell
those apart from real policy questions, so a small logistic regression reads the message itself:
its MiniLM sentence vector (the same vector the search just computed, so it costs nothing extra)
plus word and character n-grams, plus how close it sits to the nearest training messages of
each kind (``neighbour_features``). It is trained on customer messages labelled in scope (store
policy, orders) or not (other shops and brands, general chit-chat and knowledge, store topics the
documents do not cover, injection and abuse), and its probability is one feature of the calibrated
confidence (:mod:`triage.confidence`), not a verdict of its own.

Names of other businesses are the strongest tell of an off-topic message ("is moosejaw closing",
"my ll bean order"), and no training set can list them all: a gazetteer of well-known shops, brands,
marketplaces and payment services (``triage/data/other_companies.txt``) adds one feature, "names a
company the store's documents never mention". Names the documents do use (the store's carriers and
payment options: "UPS", "Klarna") are dropped from it when the model is fitted.

The fitted model ships in the package (``triage/data/scope.joblib``); ``triage train scope``
refits it, for a store with other documents, into the data dir.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from triage.classifier import fit_vectorizers, text_blocks
from triage.fitted import load_fitted, shipped

EMBED_WEIGHT = 2.0
COMPANY_WEIGHT = 2.0  # the gazetteer feature's value when a message names another company
# How like the nearest training messages of each label a message is (mean cosine of the 5 nearest
# in scope, and of the 5 nearest out): the linear model's vector weights see the whole space at
# once, neighbours see "how long does etsy take to refund" next to other shops' questions.
NEIGHBOURS = 5
NEIGHBOUR_WEIGHT = 6.0


def gazetteer_path() -> Path:
    return shipped("other_companies.txt")


def load_gazetteer(path: Path | None = None) -> list[str]:
    lines = Path(path or gazetteer_path()).read_text(encoding="utf-8").splitlines()
    return sorted({line.split("#", 1)[0].strip().lower() for line in lines} - {""})


def _name_pattern(name: str) -> str:
    # "ll bean" also matches "llbean", "l.l.bean", "LL-Bean"; "lands' end" also "lands end"
    parts = [re.escape(p) for p in re.split(r"[\s.'\-]+", name) if p]
    return r"[\s.'\-]*".join(parts)


def company_matcher(names: list[str]):
    """A regex finding any of ``names`` as whole words, or None for an empty list."""
    if not names:
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(_name_pattern(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w])",
                      re.I)


def _name_key(name: str) -> str:
    return re.sub(r"[\s.'\-]+", "", name.lower())


def _window_keys(text: str, width: int) -> dict[str, int]:
    """Every run of up to ``width`` consecutive words of ``text``, joined as a name key, with the
    fewest words it takes to spell it ("l l bean" and "ll bean" both give "llbean")."""
    words = re.findall(r"[\w&+]+", text.lower())
    keys: dict[str, int] = {}
    for i in range(len(words)):
        key = ""
        for n, word in enumerate(words[i:i + width], 1):
            key += word
            if keys.get(key, width + 1) > n:
                keys[key] = n
    return keys


def companies_not_in(documents_text: str, names: list[str] | None = None) -> list[str]:
    """The names (default: the gazetteer's) that the store's documents never mention: other businesses.

    One pass over the documents builds the set of word runs they contain; each name is then a lookup,
    so a large knowledge base and a long gazetteer cost a few milliseconds per thousand words.
    """
    names = load_gazetteer() if names is None else names
    parts = {n: [p for p in re.split(r"[\s.'\-]+", n) if p] for n in names}
    width = max((len(p) for p in parts.values()), default=0)
    found = _window_keys(documents_text, width)
    # as the matcher reads them: a name's words may run together or apart, never split further
    return [n for n in names if found.get(_name_key(n), width + 1) > len(parts[n])]


def neighbour_sets(fitted: dict) -> tuple[np.ndarray, np.ndarray]:
    """The training vectors in scope and out of scope, as float32 matrices (prepared once per model)."""
    ref = np.asarray(fitted["neighbours"], dtype=np.float32)
    labels = np.asarray(fitted["neighbour_labels"], dtype=bool)
    return np.ascontiguousarray(ref[labels]), np.ascontiguousarray(ref[~labels])


def neighbour_features(vectors, sets: tuple[np.ndarray, np.ndarray], self_rows=None) -> np.ndarray:
    """Mean cosine of each vector's NEIGHBOURS nearest in-scope and out-of-scope training messages.

    ``self_rows``, when the vectors are the training vectors themselves: for each set, the row of
    ``vectors`` each of its members is, so that no training message is its own neighbour.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    out = []
    for side, ref in enumerate(sets):
        sims = vectors @ ref.T
        if self_rows is not None:
            sims[self_rows[side], np.arange(len(ref))] = -1.0
        k = min(NEIGHBOURS, sims.shape[1])
        top = -np.partition(-sims, k - 1, axis=1)[:, :k] if k else np.zeros((len(sims), 1))
        out.append(top.mean(axis=1))
    return np.stack(out, axis=1) * NEIGHBOUR_WEIGHT


def _blocks(texts: list[str], vectors, fitted: dict, matcher=None, training: bool = False, sets=None) -> list:
    """The model's column blocks, in order: text_blocks, then the gazetteer flag and the neighbour
    similarities when the model has them."""
    blocks = text_blocks(texts, vectors, fitted["word"], fitted["char"], EMBED_WEIGHT)
    if "companies" in fitted:  # absent from a model fitted without the gazetteer feature
        blocks.append(np.array([[COMPANY_WEIGHT if matcher is not None and matcher.search(t) else 0.0] for t in texts],
                               dtype=np.float32))
    if "neighbours" in fitted:
        sets = sets if sets is not None else neighbour_sets(fitted)
        labels = np.asarray(fitted["neighbour_labels"], dtype=bool)
        self_rows = (np.flatnonzero(labels), np.flatnonzero(~labels)) if training else None
        blocks.append(neighbour_features(vectors, sets, self_rows).astype(np.float32))
    return blocks


def _features(texts: list[str], vectors, fitted: dict, matcher=None, training: bool = False, sets=None):
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(b) if isinstance(b, np.ndarray) else b
                          for b in _blocks(texts, vectors, fitted, matcher, training, sets)]).tocsr()


class ScopeModel:
    """P(in scope) of a message; reads vectors of the local embedder it was trained on."""

    def __init__(self, embedder, fitted: dict | None = None, path: Path | None = None):
        self.embedder = embedder
        self.fitted = fitted if fitted is not None else load_fitted(path, "scope.joblib", "scope model",
                                                                    "triage train scope")
        self._matcher = company_matcher(self.fitted.get("companies", []))
        self._sets = neighbour_sets(self.fitted) if "neighbours" in self.fitted else None

    def known_to_store(self, documents_text: str) -> None:
        """Names the store's current documents mention are not other businesses: a store that sells
        Patagonia jackets, or took on Afterpay, after the model was fitted."""
        names = companies_not_in(documents_text, self.fitted.get("companies", []))
        self._matcher = company_matcher(names)

    def probabilities(self, texts: list[str], vectors=None) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        vectors = self.embedder.embed_documents(texts) if vectors is None else np.asarray(vectors)
        head = self.fitted["head"]
        z = self._decision(texts, np.asarray(vectors, dtype=np.float32))
        return 1.0 / (1.0 + np.exp(-z if head.classes_[1] else z))

    def _decision(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """The head's decision function, block by block over the columns ``_features`` stacks (the
        same numbers as ``head.decision_function(_features(...))``): a chat turn reads one message,
        and stacking sparse blocks costs more than the model itself."""
        head = self.fitted["head"]
        w = head.coef_[0]
        z = np.full(len(texts), head.intercept_[0])
        i = 0
        for block in _blocks(texts, vectors, self.fitted, self._matcher, sets=self._sets):
            z += block @ w[i:i + block.shape[1]]
            i += block.shape[1]
        if i != len(w):
            from triage.errors import ConfigurationError

            raise ConfigurationError(f"the scope model has {len(w)} weights for {i} features (fitted for other "
                                     "vectors or an older version); refit it with `triage train scope`")
        return z

    def probability(self, text: str, vector=None) -> float:
        return float(self.probabilities([text], None if vector is None else np.asarray([vector]))[0])


_FAQ_QUESTION = re.compile(r"^\s*(?:Q:\s*)?(.{8,200}\?)\s*$")


def knowledge_base_phrases(chunks) -> list[str]:
    """What the store's own documents are about, in their words: FAQ questions and section headings.

    They are in scope by definition and carry the store's vocabulary (its programme names, its
    product lines), which no hand-written training set can know for every store.
    """
    out: set[str] = set()
    for chunk in chunks:
        leaf = chunk.section.split(">")[-1].strip()
        if len(leaf.split()) >= 2:
            out.add(leaf)
        for line in chunk.text.splitlines():
            m = _FAQ_QUESTION.match(line) if line.lstrip().startswith("Q:") else None
            if m:
                out.add(m.group(1).strip())
    return sorted(out)


def fit(texts: list[str], in_scope: list[bool], vectors: np.ndarray, C: float = 2.0,
        companies: list[str] | None = None) -> dict:
    """``companies``: the other businesses' names to flag (see companies_not_in); None = no such feature."""
    from sklearn.linear_model import LogisticRegression

    if len(set(in_scope)) < 2:
        from triage.errors import InvalidInputError

        raise InvalidInputError("scope training needs both in-scope and out-of-scope messages")
    word, char = fit_vectorizers(texts)
    fitted = {"word": word, "char": char, "version": 3, "rows": len(texts), "in_scope": int(sum(map(bool, in_scope))),
              "companies": list(companies or []),
              "neighbours": np.asarray(vectors, dtype=np.float16), "neighbour_labels": np.array(list(map(bool, in_scope)))}
    X = _features(texts, vectors, fitted, company_matcher(fitted["companies"]), training=True)
    fitted["head"] = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(X, list(map(bool, in_scope)))
    return fitted


def cross_validated(texts: list[str], in_scope: list[bool], vectors: np.ndarray, C: float = 2.0, folds: int = 5,
                    companies: list[str] | None = None) -> np.ndarray:
    """Out-of-fold P(in scope) for every row: how the model does on messages it has not seen."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(texts))
    y = np.array(list(map(bool, in_scope)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, y):
        fold = fit([texts[i] for i in train], y[train].tolist(), vectors[train], C, companies)
        model = ScopeModel(None, fold)
        out[test] = model.probabilities([texts[i] for i in test], vectors[test])
    return out
