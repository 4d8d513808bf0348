"""Calibrated answer confidence: P(the question is about the store) x P(the answer is right if it is).

Two questions decide whether a reply can be trusted, and they fail in different ways:

* **in scope?** "how long does etsy take to refund" retrieves the refunds page as well as any real
  question does. The scope model (:mod:`triage.scope`) reads the message. "gift wrap?" reads like
  a store question, but no sentence of the documents covers it: the scope factor is a logistic
  regression over the scope model's log-odds and what retrieval found (``SCOPE_EVIDENCE``: how
  much of the question the documents know and the chosen sentences cover, the top scores, the
  router's belief), fitted on all labelled questions and recalibrated on the dev ones.
* **right, given in scope?** Features of retrieval and of the chosen sentences (scores, margin,
  how much of the question they cover, words the documents never use) go through a logistic
  regression fitted on in-scope questions, with "top citation is a right source" as the label.

A final Platt step (or isotonic regression) maps the product to a calibrated probability.
``triage train confidence`` fits the answer factor and the abstention threshold on the dev
questions plus the labelled practice questions of ``scope_train.jsonl`` (store questions with
their sources, store questions the documents do not answer, other shops, chit-chat, abuse; their
scope probabilities are the scope model's out-of-fold ones), and both calibrations on the dev
questions alone. The fitted parameters are plain JSON: shipped in the package
(``triage/data/confidence.json``) and refitted into the data dir.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

FEATURES = (
    "top_score", "top_dense", "top_lexical", "margin", "coverage", "best_sentence", "known_ratio",
    "n_terms", "top2_same_source", "foreign_terms", "top_prior",
)
SCOPE_FEATURE = "in_scope"  # P(in scope) from the scope model; recalibrated, multiplied in
# What retrieval found tells in scope from out too: "gift wrap?" reads like a store question, but no
# sentence of the documents covers it. These join the scope model's log-odds in the scope factor.
SCOPE_EVIDENCE = ("known_ratio", "foreign_terms", "coverage", "top_dense", "top_lexical", "n_terms", "top_prior",
                  "best_sentence")
DEFAULT_THRESHOLD = 0.5


def shipped_path() -> Path:
    return Path(str(resources.files("triage") / "data" / "confidence.json"))


@dataclass
class ConfidenceModel:
    mean: list[float] = field(default_factory=lambda: [0.0] * len(FEATURES))
    scale: list[float] = field(default_factory=lambda: [1.0] * len(FEATURES))
    coef: list[float] = field(default_factory=lambda: [3.0, 4.0, 1.0, 2.0, 3.0, 1.0, 2.0, 0.0, 0.0, -2.0, 0.0])
    intercept: float = -4.5
    scope_a: float = 1.0  # weight of the scope model's log-odds in the scope factor
    scope_b: float = 0.0  # the scope factor's intercept
    scope_mean: list[float] = field(default_factory=list)  # standardisation and weights of SCOPE_EVIDENCE
    scope_scale: list[float] = field(default_factory=list)
    scope_coef: list[float] = field(default_factory=list)  # empty: the scope factor is a Platt step alone
    final_a: float = 1.0  # Platt scaling of the product's log-odds, fitted on the dev rows
    final_b: float = 0.0
    threshold: float = DEFAULT_THRESHOLD
    isotonic_x: list[float] = field(default_factory=list)
    isotonic_y: list[float] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    # -- features ---------------------------------------------------------------------------
    @staticmethod
    def features(question: str, hits: list, selection, q_terms: dict[str, float], foreign: int = 0,
                 in_scope: float = 1.0) -> dict[str, float]:
        n_terms = len(q_terms)
        known = sum(1 for w in q_terms.values() if w > 0)
        top = hits[0] if hits else None
        second = hits[1] if len(hits) > 1 else None
        return {
            "top_score": top.score if top else 0.0,
            "top_dense": top.dense if top else 0.0,
            "top_lexical": top.lexical if top else 0.0,
            "margin": (top.score - second.score) if top and second else (top.score if top else 0.0),
            "coverage": selection.coverage,
            "best_sentence": max(0.0, selection.best_sentence_score),
            "known_ratio": known / n_terms if n_terms else 0.0,
            "n_terms": math.log1p(n_terms),
            "top2_same_source": 1.0 if top and second and top.source == second.source else 0.0,
            "foreign_terms": float(min(foreign, 3)),
            # P(top chunk's document | question) from the source router; None when search has no router
            "top_prior": top.prior if top and top.prior is not None else None,
            "in_scope": in_scope,
        }

    # -- prediction ---------------------------------------------------------------------------
    def answer_probability(self, feats: dict[str, float]) -> float:
        """P(right | in scope), from retrieval and sentence features."""
        z = self.intercept
        for name, m, s, c in zip(FEATURES, self.mean, self.scale, self.coef):
            value = feats.get(name, 0.0)
            if value is not None:  # a feature this search cannot provide counts as average
                z += c * (value - m) / (s or 1.0)
        return _sigmoid(z)

    def scope_probability(self, feats: dict[str, float]) -> float:
        """P(in scope): the scope model's reading of the message, plus what retrieval found for it."""
        z = self.scope_a * _logit(feats.get(SCOPE_FEATURE, 1.0)) + self.scope_b
        for name, m, s, c in zip(SCOPE_EVIDENCE, self.scope_mean, self.scope_scale, self.scope_coef):
            value = feats.get(name, 0.0)
            if value is not None:
                z += c * (value - m) / (s or 1.0)
        return _sigmoid(z)

    def raw(self, feats: dict[str, float]) -> float:
        return self.scope_probability(feats) * self.answer_probability(feats)

    def predict(self, feats: dict[str, float]) -> float:
        return self.calibrated(self.raw(feats))

    def calibrated(self, p: float) -> float:
        """The final calibration of a raw product of the two factors."""
        if (self.final_a, self.final_b) != (1.0, 0.0):
            p = _sigmoid(self.final_a * _logit(p) + self.final_b)
        if self.isotonic_x:
            p = _interp(p, self.isotonic_x, self.isotonic_y)
        return max(0.0, min(1.0, p))

    # -- persistence --------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "mean": self.mean, "scale": self.scale, "coef": self.coef,
                           "intercept": self.intercept, "scope_a": self.scope_a, "scope_b": self.scope_b,
                           "scope_evidence": list(SCOPE_EVIDENCE), "scope_mean": self.scope_mean,
                           "scope_scale": self.scope_scale, "scope_coef": self.scope_coef,
                           "final_a": self.final_a, "final_b": self.final_b,
                           "threshold": self.threshold,
                           "isotonic_x": self.isotonic_x, "isotonic_y": self.isotonic_y, "report": self.report},
                          indent=2)

    @classmethod
    def load(cls, path: Path | None = None) -> "ConfidenceModel":
        p = Path(path) if path else shipped_path()
        if not p.exists():
            return cls()
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("features") != list(FEATURES) or data.get("scope_evidence", list(SCOPE_EVIDENCE)) != list(SCOPE_EVIDENCE):
            return cls()  # fitted for another feature set: fall back to defaults rather than mis-predict
        return cls(data["mean"], data["scale"], data["coef"], data["intercept"],
                   data.get("scope_a", 1.0), data.get("scope_b", 0.0), data.get("scope_mean", []),
                   data.get("scope_scale", []), data.get("scope_coef", []), data.get("final_a", 1.0), data.get("final_b", 0.0),
                   data["threshold"], data.get("isotonic_x", []), data.get("isotonic_y", []), data.get("report", {}))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    lo, hi = 0, len(xs) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    if xs[hi] == xs[lo]:
        return ys[hi]
    t = (x - xs[lo]) / (xs[hi] - xs[lo])
    return ys[lo] + t * (ys[hi] - ys[lo])


def _standardized(rows: list[dict], names: tuple[str, ...]):
    """Rows as a standardised matrix; a feature a row lacks (None) reads as the average, as in prediction."""
    import numpy as np

    X = np.array([[np.nan if r.get(f) is None else r[f] for f in names] for r in rows], dtype=float)
    with warnings.catch_warnings():  # a feature no row has (search without a router) is all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, scale = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    mean[np.isnan(mean)] = 0.0
    scale[np.isnan(scale) | (scale == 0)] = 1.0
    return (np.where(np.isnan(X), mean, X) - mean) / scale, mean, scale


def _factors(rows: list[dict], correct: list[bool], in_scope: list[bool]) -> ConfidenceModel:
    """The two factors, uncalibrated: P(right | in scope) from the in-scope rows, P(in scope) from all."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    ins = [i for i, s in enumerate(in_scope) if s]
    X, mean, scale = _standardized([rows[i] for i in ins], FEATURES)
    y = np.array([correct[i] for i in ins], dtype=int)
    model = ConfidenceModel(mean.tolist(), scale.tolist())
    if len(set(y)) == 2:
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
        model.coef, model.intercept = lr.coef_[0].tolist(), float(lr.intercept_[0])
    if len(set(in_scope)) == 2:  # the scope model's log-odds and retrieval's evidence
        E, s_mean, s_scale = _standardized(rows, SCOPE_EVIDENCE)
        z = np.array([[_logit(r.get(SCOPE_FEATURE, 1.0))] for r in rows])
        stacked = LogisticRegression(C=1.0, max_iter=1000).fit(np.hstack([z, E]), np.array(in_scope, dtype=int))
        model.scope_a, model.scope_b = float(stacked.coef_[0][0]), float(stacked.intercept_[0])
        model.scope_mean, model.scope_scale = s_mean.tolist(), s_scale.tolist()
        model.scope_coef = stacked.coef_[0][1:].tolist()
    return model


def _cross_fitted(rows, correct, in_scope, keep: list[int], full: ConfidenceModel, folds: int = 5):
    """(scope log-odds, answer probability) of each ``keep`` row from factors fitted without its fold."""
    import numpy as np

    scope_z, answer_p = np.zeros(len(keep)), np.zeros(len(keep))
    order = np.arange(len(keep))
    if len(keep) < folds * 4:  # too few to hold any out: the full factors (in-sample) it is
        splits = [(order, full)]
    else:
        splits = []
        for f in range(folds):
            test = order[order % folds == f]
            out = {keep[j] for j in test}
            idx = [i for i in range(len(rows)) if i not in out]
            splits.append((test, _factors([rows[i] for i in idx], [correct[i] for i in idx], [in_scope[i] for i in idx])))
    for test, model in splits:
        for j in test:
            scope_z[j] = _logit(model.scope_probability(rows[keep[j]]))
            answer_p[j] = model.answer_probability(rows[keep[j]])
    return scope_z, answer_p


def fit(rows: list[dict[str, float]], correct: list[bool], in_scope: list[bool], isotonic: bool = False,
        calibrate: list[bool] | None = None) -> ConfidenceModel:
    """Fit both factors, calibrate their product and choose the abstention threshold.

    ``rows`` are labelled questions, in scope or not (their ``in_scope`` feature must come from a
    scope model that was not trained on them). The answer factor learns from the in-scope ones
    (right top citation or not), the scope factor from all of them (in scope or not, from the scope
    model's log-odds and retrieval's evidence); a Platt step on each and a final Platt step (or
    isotonic) calibrate. The threshold maximises answered-right on in-scope plus abstention on
    out-of-scope questions (the two things a customer notices), read on cross-fitted probabilities.
    With ``calibrate``, only the rows it marks (the questions most like the customers', with their
    share of off-topic ones) calibrate the scope factor and the product and set the threshold (the
    other rows only break its ties); the two factors still learn from all rows.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = _factors(rows, correct, in_scope)
    keep = [i for i, k in enumerate(calibrate) if k] if calibrate is not None else list(range(len(rows)))
    cal_correct = np.array([correct[i] for i in keep], dtype=int)
    cal_scope = np.array([in_scope[i] for i in keep], dtype=int)
    # A calibration row must be read by factors that never learnt from it, or the calibration learns
    # how sure the factors are of their own training rows (overconfident): cross-fitted, 5 folds.
    every = list(range(len(rows)))
    all_z, all_p = _cross_fitted(rows, correct, in_scope, every, model)
    scope_z, answer_p = all_z[keep], all_p[keep]
    if len(set(cal_scope)) == 2:  # P(in scope | evidence) depends on how many messages are off-topic: calibrate rows set it
        platt = LogisticRegression(C=1.0, max_iter=1000).fit(scope_z.reshape(-1, 1), cal_scope)
        a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
        model.scope_a, model.scope_b = a * model.scope_a, a * model.scope_b + b
        model.scope_coef = [a * c for c in model.scope_coef]
        scope_z = a * scope_z + b
        all_z = a * all_z + b
    raw = np.array([_sigmoid(z) for z in scope_z]) * answer_p
    if isotonic:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, cal_correct)
        model.isotonic_x = [float(v) for v in iso.X_thresholds_]
        model.isotonic_y = [float(v) for v in iso.y_thresholds_]
    elif len(set(cal_correct)) == 2:
        z = np.array([[_logit(v)] for v in raw])
        final = LogisticRegression(C=1.0, max_iter=1000).fit(z, cal_correct)
        model.final_a, model.final_b = float(final.coef_[0][0]), float(final.intercept_[0])
    # The threshold is read on what the model says of questions it never learnt from (cross-fitted),
    # over the calibration rows: practice sets are written to be hard (near misses, abuse), and over
    # them the threshold would balance two rates neither of which a store's chat looks like. Within
    # the calibration rows' best plateau (wide: 139 questions), the practice rows choose.
    probs = [model.calibrated(_sigmoid(z) * p) for z, p in zip(all_z, all_p)]
    chosen = keep if len({in_scope[i] for i in keep}) == 2 else every
    grid = [i / 100 for i in range(1, 96)]

    def objective(idx: list[int]) -> list[float]:
        n_in = sum(in_scope[i] for i in idx) or 1
        n_out = (len(idx) - sum(in_scope[i] for i in idx)) or 1
        out = []
        for t in grid:
            right = sum(1 for i in idx if in_scope[i] and correct[i] and probs[i] >= t) / n_in
            abstained = sum(1 for i in idx if not in_scope[i] and probs[i] < t) / n_out
            out.append(round(right + abstained - 0.5 * abs(right - abstained), 9))
        return out

    scores = objective(chosen)
    best = max(scores)
    plateau = [t for t, sc in zip(grid, scores) if sc == best]
    taken = set(chosen)
    rest = [i for i in every if i not in taken]
    if len({in_scope[i] for i in rest}) == 2 and len(plateau) > 1:  # the practice rows break ties
        tie = dict(zip(grid, objective(rest)))
        top = max(tie[t] for t in plateau)
        plateau = [t for t in plateau if tie[t] == top]
    model.threshold = float(plateau[len(plateau) // 2])  # the middle of the best plateau, not its edge
    return model
