"""Deterministic metrics. Pure functions over plain Python values."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import PurePath

_WORD = re.compile(r"[a-z0-9$.%/-]+")


def source_matches(source: str, expected: str) -> bool:
    """A result source matches an expected one by file name or path suffix."""
    s, e = source.replace("\\", "/"), expected.replace("\\", "/")
    return s == e or s.endswith("/" + e) or PurePath(s).name == PurePath(e).name


def first_hit_rank(sources: Sequence[str], expected: Sequence[str]) -> int | None:
    """1-based rank of the first result whose source is expected, or None."""
    for rank, src in enumerate(sources, 1):
        if any(source_matches(src, e) for e in expected):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def context_precision(sources: Sequence[str], expected: Sequence[str]) -> float:
    """Average precision of relevant results in the ranking (ragas-style, by source)."""
    hits, total = 0, 0.0
    for i, src in enumerate(sources, 1):
        if any(source_matches(src, e) for e in expected):
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def context_recall(sources: Sequence[str], expected: Sequence[str]) -> float:
    if not expected:
        return 1.0
    return sum(any(source_matches(s, e) for s in sources) for e in expected) / len(expected)


def normalize_text(text: str) -> str:
    text = text.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip()


def fact_present(fact: str, text: str) -> bool:
    f, t = normalize_text(fact), normalize_text(text)
    if f in t:
        return True
    # tolerate punctuation differences ("5-10 business days" vs "5 to 10 business days" is not tolerated)
    strip = lambda s: re.sub(r"[^a-z0-9$%]+", " ", s).strip()  # noqa: E731
    return strip(f) in strip(t)


def fact_coverage(facts: Sequence[str], text: str) -> float:
    if not facts:
        return 1.0
    return sum(fact_present(f, text) for f in facts) / len(facts)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def token_f1(prediction: str, reference: str) -> float:
    p, r = tokens(prediction), tokens(reference)
    if not p or not r:
        return float(p == r)
    common: dict[str, int] = {}
    rc: dict[str, int] = {}
    for t in r:
        rc[t] = rc.get(t, 0) + 1
    overlap = 0
    for t in p:
        if rc.get(t, 0) > common.get(t, 0):
            common[t] = common.get(t, 0) + 1
            overlap += 1
    if not overlap:
        return 0.0
    precision, recall = overlap / len(p), overlap / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure over word tokens (LCS based)."""
    p, r = tokens(prediction), tokens(reference)
    if not p or not r:
        return 0.0
    prev = [0] * (len(r) + 1)
    for a in p:
        cur = [0] * (len(r) + 1)
        for j, b in enumerate(r, 1):
            cur[j] = prev[j - 1] + 1 if a == b else max(prev[j], cur[j - 1])
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> list[dict]:
    bins = []
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        idx = [i for i, c in enumerate(confidences) if (lo <= c < hi) or (b == n_bins - 1 and c == 1.0)]
        if idx:
            bins.append({"lo": lo, "hi": hi, "n": len(idx), "confidence": mean([confidences[i] for i in idx]),
                         "accuracy": mean([float(correct[i]) for i in idx])})
    return bins


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    n = len(confidences)
    if not n:
        return float("nan")
    return sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(confidences, correct, n_bins))


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> float:
    labels = list(labels or sorted(set(gold)))
    scores = []
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
        scores.append(precision_recall_f1(tp, fp, fn)[2])
    return mean(scores)


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    pos = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred):
        if g in pos and p in pos:
            m[pos[g]][pos[p]] += 1
    return m
