"""Incremental ingestion: discover -> hash -> load + chunk what changed -> embed -> store.

Unchanged files (same content hash, same embedder) are skipped without loading the embedding
model or opening Chroma. A file that fails to load is reported by name and leaves whatever was
indexed for it before untouched; the other files still ingest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from knowledge.chunking import Chunk, Chunker
from knowledge.errors import DocumentError
from knowledge.index import KnowledgeIndex, SourceInfo
from knowledge.loaders import load_document

EMBED_BATCH = 512  # texts per embedding call; length-sorted so padding stays small

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[DocumentError] = field(default_factory=list)
    chunks_embedded: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def source_name(path: Path, given: Path, given_str: str) -> str:
    """The source as the user named it: the path given, plus the file's place below a folder."""
    if path == given:
        return os.path.normpath(given_str)
    return os.path.normpath(os.path.join(given_str, os.path.relpath(path, given)))


def discover(paths: Iterable[str]) -> tuple[list[tuple[Path, str]], list[DocumentError], list[str]]:
    """Files below the given paths as (path, source); missing paths as errors; the roots walked."""
    found: dict[str, Path] = {}
    errors: list[DocumentError] = []
    roots: list[str] = []
    for given_str in paths:
        given = Path(given_str)
        roots.append(os.path.normpath(given_str))
        if given.is_file():
            found.setdefault(source_name(given, given, given_str), given)
        elif given.is_dir():
            for dirpath, dirnames, filenames in os.walk(given):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    p = Path(dirpath) / name
                    found.setdefault(source_name(p, given, given_str), p)
        else:
            errors.append(DocumentError(os.path.normpath(given_str), "does not exist"))
    return [(p, s) for s, p in found.items()], errors, roots


def file_hash(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def _under(source: str, roots: list[str]) -> bool:
    return any(source == r or source.startswith(r.rstrip(os.sep) + os.sep) or r in (".", "") for r in roots)


class Ingestor:
    def __init__(self, index: KnowledgeIndex, chunker: Chunker | None = None):
        self.index = index
        self.chunker = chunker or Chunker()

    def ingest(self, paths: Iterable[str], prune: bool = False, progress: ProgressFn | None = None) -> IngestReport:
        report = IngestReport()
        files, missing, roots = discover(paths)
        report.failed.extend(missing)
        catalog = self.index.catalog
        known = catalog.sources()
        model_id = self.index.embedder.model_id
        pipeline = f"{model_id}|{self.chunker.signature}"
        reembed_all = catalog.get_meta("pipeline") not in (None, pipeline)

        # 1. what changed (reads and hashes files only)
        todo: list[tuple[Path, str, str, int]] = []
        for path, source in files:
            try:
                digest, size = file_hash(path)
            except OSError as exc:
                report.failed.append(DocumentError(source, f"cannot be read ({exc.strerror or exc})"))
                continue
            old = known.get(source)
            if old and old.content_hash == digest and not reembed_all:
                report.unchanged.append(source)
            else:
                todo.append((path, source, digest, size))

        # 2. load + chunk the changed files
        docs: list[tuple[SourceInfo, list[Chunk]]] = []
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for n, (path, source, digest, size) in enumerate(todo, 1):
            try:
                doc = load_document(path, source)
                chunks = self.chunker.split(doc)
            except DocumentError as exc:
                report.failed.append(exc)
                continue
            docs.append((SourceInfo(source, digest, doc.title, len(chunks), size, now), chunks))
            if progress:
                progress("reading", n, len(todo))

        # 3. embed (length-sorted macro-batches) while a writer thread stores finished documents
        if docs:
            self._embed_and_store(docs, known, now, report, progress)
            catalog.set_meta("embedder", model_id)
            catalog.set_meta("pipeline", pipeline)

        # 4. prune sources that disappeared below the given roots (or from disk altogether)
        if prune:
            present = {s for _, s in files}
            for source in sorted(known):
                if source in present or source in {e.source for e in report.failed}:
                    continue
                if _under(source, roots) or not Path(source).exists():
                    self.index.vectors.delete(catalog.chunk_ids(source))
                    catalog.remove_source(source)
                    report.removed.append(source)
        if docs or report.removed:
            self.index.invalidate()
        return report

    def _embed_and_store(self, docs, known, now, report: IngestReport, progress: ProgressFn | None) -> None:
        """Embed all chunks in length-sorted macro-batches; after each batch, store every document
        whose last chunk is embedded, in one Chroma write and one catalog transaction. Per-document
        writes cost ~20 ms each (0.78x of raw embedding throughput for 300 documents); a writer
        thread only competes with torch for the same two cores (0.85x)."""
        embedder = self.index.embedder
        flat: list[tuple[int, int]] = [(d, c) for d, (_, chunks) in enumerate(docs) for c in range(len(chunks))]
        texts = [docs[d][1][c].index_text for d, c in flat]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        remaining = [len(chunks) for _, chunks in docs]
        parts: dict[int, dict[int, np.ndarray]] = {d: {} for d in range(len(docs))}
        total = len(texts)
        for start in range(0, total, EMBED_BATCH):
            idx = order[start : start + EMBED_BATCH]
            embedded = embedder.embed_documents([texts[i] for i in idx])
            finished: list[int] = []
            for row, i in enumerate(idx):
                d, c = flat[i]
                parts[d][c] = embedded[row]
                remaining[d] -= 1
                if remaining[d] == 0:
                    finished.append(d)
            if finished:
                self._store(finished, docs, parts, known, now, report)
            report.chunks_embedded += len(idx)
            if progress:
                progress("embedding", min(start + EMBED_BATCH, total), total)

    def _store(self, finished: list[int], docs, parts, known, now, report: IngestReport) -> None:
        """One Chroma write and one catalog transaction for every document finished in a batch."""
        catalog, vectors = self.index.catalog, self.index.vectors
        all_chunks, all_vectors, hashes, stale = [], [], {}, []
        for d in finished:
            info, chunks = docs[d]
            all_chunks.extend(chunks)
            all_vectors.extend(parts[d][k] for k in range(len(chunks)))
            parts[d] = {}
            hashes[info.source] = info.content_hash
            if info.source in known:
                stale.extend(sorted(set(catalog.chunk_ids(info.source)) - {ch.chunk_id for ch in chunks}))
        if stale:
            vectors.delete(stale)
        vectors.add(all_chunks, np.stack(all_vectors), hashes, now)
        catalog.replace_sources([docs[d] for d in finished])
        for d in finished:
            source = docs[d][0].source
            (report.updated if source in known else report.added).append(source)
