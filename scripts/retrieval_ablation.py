"""What helps retrieval on the sample store: prints hit@1 / hit@5 / MRR per variant, one run.

    .venv/bin/python scripts/retrieval_ablation.py [--split dev|heldout|all]

Uses the retrieval set plus the in-scope answer questions. Decisions are made on "dev"; "heldout"
is reported, never tuned on. The source router rows use the shipped router, trained on the
practice questions of scope_train.jsonl, none of which are in these sets.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from evals.datasets import default_dataset, load_jsonl, select_split
from evals.metrics import first_hit_rank
from knowledge.embeddings import LocalEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.ingest import Ingestor
from knowledge.retriever import PRIOR_WEIGHT, HybridSearcher
from triage.routing import SourceRouter

DOCS = Path(__file__).resolve().parents[1] / "knowledge" / "sample_store" / "docs"


def rows(split: str) -> list[dict]:
    r = load_jsonl(default_dataset("retrieval.jsonl"))
    a = [x for x in load_jsonl(default_dataset("answers.jsonl")) if x.get("in_scope")]
    return select_split(r + a, split)


def score(searcher: HybridSearcher, data: list[dict], vectors) -> tuple[float, float, float]:
    ranks = [first_hit_rank([h.source for h in searcher.search_with_vector(r["user_input"], v, 5)], r["expected_sources"])
             for r, v in zip(data, vectors)]
    n = len(ranks)
    return (sum(r == 1 for r in ranks) / n, sum(bool(r) for r in ranks) / n, sum(1 / r for r in ranks if r) / n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev", choices=("dev", "heldout", "all"))
    args = ap.parse_args()
    data = rows(args.split)
    tmp = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(DOCS, tmp / "docs")
        embedder = LocalEmbedder()
        index = KnowledgeIndex(tmp / "data", embedder)
        Ingestor(index).ingest([str(tmp / "docs")])
        s = HybridSearcher(index)
        repaired = [embedder.embed_query(s.dense_query(r["user_input"])) for r in data]
        raw = [embedder.embed_query(r["user_input"]) for r in data]
        variants = []
        for name, w, repair, vecs in [
            ("dense only", 1.0, True, repaired),
            ("lexical (BM25) only", 0.0, True, repaired),
            ("hybrid, no typo repair", 0.6, False, raw),
            ("hybrid 0.5 dense", 0.5, True, repaired),
            ("hybrid 0.6 dense", 0.6, True, repaired),
            ("hybrid 0.7 dense", 0.7, True, repaired),
        ]:
            s.dense_weight, s.repair_typos = w, repair
            variants.append((name, *score(s, data, vecs)))
        # the source router as a prior (what `triage search` runs); it never saw these questions
        s.dense_weight, s.repair_typos, s.prior = 0.6, True, SourceRouter(embedder)
        for weight in (0.1, 0.2, 0.3, 0.5, 1.0):
            s.prior_weight = weight
            variants.append((f"hybrid 0.6 + router {weight}" + (" (default)" if weight == PRIOR_WEIGHT else ""),
                             *score(s, data, repaired)))
        print(f"split={args.split} questions={len(data)} chunks={index.catalog.count_chunks()}")
        print(f"{'variant':36s} {'hit@1':>6s} {'hit@5':>6s} {'MRR':>6s}")
        for name, h1, h5, mrr in variants:
            print(f"{name:36s} {h1:6.3f} {h5:6.3f} {mrr:6.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
