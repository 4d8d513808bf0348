"""Builds the real implementations from Settings and hands them down."""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path

from api.settings import Settings


def sample_store_dir() -> Path:
    return Path(str(resources.files("knowledge") / "sample_store" / "docs"))


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (how a user would type it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Container:
    """Lazily built components for one process (the model loads once)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        from knowledge.tokens import install_tiktoken_cache

        install_tiktoken_cache(settings.tiktoken_cache_dir)

    @cached_property
    def embedder(self):
        s = self.settings
        if s.embedder == "openai":
            from knowledge.embeddings import OpenAIEmbedder

            key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
            return OpenAIEmbedder(s.embeddings_model, api_key=key, base_url=s.embeddings_base_url or s.llm_base_url)
        from knowledge.embeddings import LocalEmbedder

        return LocalEmbedder(threads=s.embed_threads)

    @cached_property
    def index(self):
        from knowledge.index import KnowledgeIndex

        return KnowledgeIndex(self.settings.data_dir, self.embedder, chroma_url=self.settings.chroma_url)

    @cached_property
    def searcher(self):
        from knowledge.retriever import HybridSearcher

        return HybridSearcher(self.index)

    @cached_property
    def ingestor(self):
        from knowledge.ingest import Ingestor

        return Ingestor(self.index)

    @property
    def models_dir(self) -> Path:
        return self.settings.data_dir / "models"

    @cached_property
    def confidence_model(self):
        from triage.confidence import ConfidenceModel

        fitted = self.models_dir / "confidence.json"
        return ConfidenceModel.load(fitted if fitted.exists() else None)

    @cached_property
    def extractive(self):
        from triage.answers import ExtractiveAnswerer

        return ExtractiveAnswerer(self.searcher, self.confidence_model, abstain_below=self.settings.abstain_below)

    @cached_property
    def answerer(self):
        """The configured answerer: LLM mode when an endpoint or key is set, extractive otherwise."""
        if not self.settings.llm_enabled:
            return self.extractive
        from triage.llm_answers import LLMAnswerer

        return LLMAnswerer(self.extractive, self.chat_model, max_context_tokens=self.settings.max_context_tokens)

    @cached_property
    def chat_model(self):
        from triage.llm import OpenAIChatModel

        s = self.settings
        key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
        return OpenAIChatModel(model=s.llm_model, base_url=s.llm_base_url, api_key=key, timeout=s.llm_timeout)

    def ensure_sample_store(self) -> None:
        """Ingest the demo store if the knowledge base is empty."""
        if self.index.catalog.count_chunks() == 0:
            self.ingestor.ingest([display_path(sample_store_dir())])
