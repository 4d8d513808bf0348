"""Out-of-fold answer quality on the practice questions: what `train confidence` would give on
questions it never saw. Prints answered-right and abstention per kind, AUC and ECE, one run.

    .venv/bin/python scripts/confidence_cv.py [--folds 5] [--isotonic]

The practice questions (scope_train.jsonl) are split in folds; each fold is scored by a confidence
model fitted (as `train confidence` does) on the dev answer questions plus the other folds. Then
each half of the dev questions is scored by a model fitted on the other half plus all practice
questions: the figures `triage eval answers --split dev` would give if dev did not calibrate. The
scope model's and router's probabilities of practice questions are their out-of-fold ones, as in
training. Held-out questions are never read. Decide changes here and on dev, not on held-out.
"""

from __future__ import annotations

import argparse
import collections
import time

from api.cli import confidence_training_rows, container
from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl, select_split
from triage.confidence import fit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--isotonic", action="store_true")
    ap.add_argument("--dump", help="write each practice question's out-of-fold result to this JSONL")
    args = ap.parse_args()
    t0 = time.perf_counter()
    c = container()
    c.ensure_sample_store()
    dev = select_split(load_jsonl(default_dataset("answers.jsonl"), ("user_input",)), "dev")
    practice = load_jsonl(default_dataset("scope_train.jsonl"), ("user_input", "in_scope"))
    feats, correct, scope = confidence_training_rows(c, dev, practice)
    n_dev = len(dev)
    probs, thresholds = [0.0] * len(practice), []
    for k in range(args.folds):
        test = [j for j in range(len(practice)) if j % args.folds == k]
        held = set(test)
        train = list(range(n_dev)) + [n_dev + j for j in range(len(practice)) if j not in held]
        model = fit([feats[i] for i in train], [correct[i] for i in train], [scope[i] for i in train],
                    isotonic=args.isotonic, calibrate=[i < n_dev for i in train])
        thresholds.append(model.threshold)
        for j in test:
            probs[j] = model.predict(feats[n_dev + j])
    t = sum(thresholds) / len(thresholds)
    if args.dump:
        import json

        with open(args.dump, "w", encoding="utf-8") as fh:
            for j, row in enumerate(practice):
                hits, sel, _ = c.extractive.analyze(row["user_input"])
                top = hits[sel.sentences[0][1]].source if sel.sentences else ""
                fh.write(json.dumps({**row, "confidence": round(probs[j], 4), "right_source": correct[n_dev + j],
                                     "top": top, "hits": [h.source for h in hits[:3]],
                                     "features": feats[n_dev + j]}) + "\n")
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for j, row in enumerate(practice):
        kind = row.get("kind", "policy" if row["in_scope"] else "other")
        ok = (correct[n_dev + j] and probs[j] >= t) if row["in_scope"] else probs[j] < t
        by_kind[kind].append(float(ok))
    ys = [correct[n_dev + j] for j in range(len(practice))]
    print(f"practice questions {len(practice)}, folds {args.folds}, mean threshold {t:.3f}")
    for kind, oks in sorted(by_kind.items()):
        label = "answered-right" if kind == "policy" else "abstained"
        print(f"  {kind:12s} n={len(oks):4d}  {label} {M.mean(oks):.3f}")
    ins = [j for j, r in enumerate(practice) if r["in_scope"]]
    print(f"  policy right top source (before abstaining) {M.mean([float(correct[n_dev + j]) for j in ins]):.3f}")
    print(f"  AUC {auc(probs, ys):.3f}  ECE {M.expected_calibration_error(probs, ys):.3f}")
    # dev halves: each half scored by a model fitted on the other half and all practice questions
    right, declined, confs, oks = [], [], [], []
    for half in (0, 1):
        test = [i for i in range(n_dev) if i % 2 == half]
        train = [i for i in range(n_dev) if i % 2 != half] + list(range(n_dev, len(feats)))
        model = fit([feats[i] for i in train], [correct[i] for i in train], [scope[i] for i in train],
                    isotonic=args.isotonic, calibrate=[i < n_dev for i in train])
        for i in test:
            p = model.predict(feats[i])
            confs.append(p)
            oks.append(correct[i])
            if scope[i]:
                right.append(float(correct[i] and p >= model.threshold))
            else:
                declined.append(float(p < model.threshold))
    print(f"dev halves ({n_dev} questions, each half unseen by its model): answered-right {M.mean(right):.3f}  "
          f"out-of-scope abstained {M.mean(declined):.3f}  ECE {M.expected_calibration_error(confs, oks):.3f}  "
          f"({time.perf_counter() - t0:.0f} s)")


def auc(p: list[float], y: list[bool]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([int(v) for v in y], p))


if __name__ == "__main__":
    main()
