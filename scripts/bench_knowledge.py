"""Benchmarks for the knowledge base and answers, every ratio measured side by side in one run.

    .venv/bin/python scripts/bench_knowledge.py [--docs 300] [--reingest-docs 1000]

Prints:
1. raw embedding throughput (the model encoding the chunk texts, nothing else) vs `ingest`
   throughput (discover, hash, load, chunk, embed, write Chroma + catalog) on the same corpus;
2. the floor (one query embedding + a raw Chroma k=5 query) vs hybrid `search` latency p50/p95,
   and `ask` (offline answer) latency against `search`, interleaved per query;
3. the wall time of `triage ingest FOLDER` re-run on an unchanged folder of N documents
   (a whole CLI process, as a user runs it).
Bars: ingest >= 0.9x raw embedding; search p50 <= 1.3x floor; ask p50 <= 1.3x search; re-ingest < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "knowledge" / "sample_store" / "docs"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * q / 100)))]


def make_corpus(folder: Path, n_docs: int, words_per_doc: int, seed: int = 7) -> None:
    """Markdown documents built from the sample store's own sentences, so text is realistic."""
    from knowledge.loaders import load_document
    from triage.answers import split_sentences

    sentences = []
    for p in sorted(DOCS.iterdir()):
        for sec in load_document(p, p.name).sections:
            sentences.extend(split_sentences(sec.text))
    rnd = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(n_docs):
        body, words = [], 0
        while words < words_per_doc:
            para = " ".join(rnd.choice(sentences) for _ in range(4))
            body.append(para)
            words += len(para.split())
        (folder / f"doc-{i:05d}.md").write_text(f"# Help article {i}\n\n## Section A\n\n" + "\n\n".join(body) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=300, help="documents for the throughput run")
    ap.add_argument("--reingest-docs", type=int, default=1000, help="documents for the unchanged re-ingest run")
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()

    from knowledge.chunking import Chunker
    from knowledge.embeddings import LocalEmbedder
    from knowledge.index import KnowledgeIndex
    from knowledge.ingest import Ingestor, discover
    from knowledge.loaders import load_document
    from knowledge.retriever import HybridSearcher
    from triage.answers import ExtractiveAnswerer
    from triage.confidence import ConfidenceModel
    from triage.scope import ScopeModel

    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        embedder = LocalEmbedder()
        embedder.embed_query("warm up")  # load the model outside every timing

        # 1. throughput ------------------------------------------------------------------------
        corpus = tmp / "corpus"
        make_corpus(corpus, args.docs, 450)
        files, _, _ = discover([str(corpus)])
        chunker = Chunker()
        texts = [c.index_text for p, s in files for c in chunker.split(load_document(p, s))]
        t0 = time.perf_counter()
        embedder.embed_documents(texts)
        raw_s = time.perf_counter() - t0
        index = KnowledgeIndex(tmp / "data-throughput", embedder)
        t0 = time.perf_counter()
        report = Ingestor(index).ingest([str(corpus)])
        ingest_s = time.perf_counter() - t0
        assert report.ok and report.chunks_embedded == len(texts)
        raw_tp, ingest_tp = len(texts) / raw_s, len(texts) / ingest_s
        print(f"corpus: {args.docs} docs, {len(texts)} chunks")
        print(f"{'raw embedding throughput':34s} {raw_tp:8.1f} chunks/s ({raw_s:.1f} s)")
        print(f"{'ingest throughput':34s} {ingest_tp:8.1f} chunks/s ({ingest_s:.1f} s)")
        print(f"{'ratio ingest / raw':34s} {ingest_tp / raw_tp:8.3f}   (bar >= 0.9)")

        # 2. latency on the sample store ----------------------------------------------------------
        shutil.copytree(DOCS, tmp / "docs")
        store = KnowledgeIndex(tmp / "data-sample", embedder)
        Ingestor(store).ingest([str(tmp / "docs")])
        from triage.routing import SourceRouter

        # as `triage search` runs it: hybrid scores plus the shipped source router (the prior);
        # the plain hybrid search is timed too, to show what the router costs
        searcher = HybridSearcher(store, prior=SourceRouter(embedder))
        plain = HybridSearcher(store)
        # as `triage ask` runs it: the scope model reads the vector the search computed
        answerer = ExtractiveAnswerer(searcher, ConfidenceModel.load(), scope=ScopeModel(embedder))
        rows = [json.loads(line) for line in (REPO / "evals" / "datasets" / "retrieval.jsonl").open()]
        queries = [r["user_input"] for r in rows][: args.queries]
        collection = store.vectors.collection
        for q in queries[:5]:  # warm every path (BM25 build, Chroma caches)
            searcher.search(q, 5), answerer.answer(q)
        floor, search, ask, unrouted = [], [], [], []
        for q in queries:
            t0 = time.perf_counter()
            v = embedder.embed_query(q)
            collection.query(query_embeddings=[v], n_results=5, include=["documents", "metadatas", "distances"])
            floor.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            plain.search(q, 5)
            unrouted.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            searcher.search(q, 5)
            search.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            answerer.answer(q)
            ask.append((time.perf_counter() - t0) * 1000)
        assert plain.search(queries[0], 5)[0].prior is None and searcher.search(queries[0], 5)[0].prior is not None
        print(f"\nlatency over {len(queries)} queries (ms)        p50      p95")
        for name, xs in (("floor: embed + raw Chroma k=5", floor), ("hybrid search without the router", unrouted),
                         ("triage search (hybrid + router)", search),
                         ("triage ask (offline answer)", ask)):
            print(f"{name:34s} {pct(xs, 50):8.2f} {pct(xs, 95):8.2f}")
        print(f"{'ratio search p50 / floor p50':34s} {statistics.median(search) / statistics.median(floor):8.3f}   (bar <= 1.3)")
        print(f"{'ratio ask p50 / search p50':34s} {statistics.median(ask) / statistics.median(search):8.3f}   (bar <= 1.3)")

        # 3. unchanged re-ingest through the CLI ---------------------------------------------------
        big = tmp / "kb1000"
        make_corpus(big, args.reingest_docs, 90, seed=11)
        env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp / "data-reingest")}
        exe = str(Path(sys.executable).parent / "triage")
        first = subprocess.run([exe, "ingest", str(big)], env=env, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            again = subprocess.run([exe, "ingest", str(big)], env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            assert again.returncode == 0 and f"unchanged {args.reingest_docs}" in again.stderr, again.stderr
        print(f"\nre-ingest of an unchanged {args.reingest_docs}-document folder (whole `triage ingest` process)")
        print(f"{'wall time, best / median of 3':34s} {min(walls):8.2f} / {statistics.median(walls):.2f} s   (bar < 2 s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
