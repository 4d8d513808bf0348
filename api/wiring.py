"""Builds the real implementations from Settings and hands them down."""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path

from api.settings import Settings


def sample_store_dir() -> Path:
    return Path(str(resources.files("knowledge") / "sample_store" / "docs"))


def sample_orders_csv() -> Path:
    return Path(str(resources.files("triage") / "data" / "sample_orders.csv"))


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (how a user would type it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class QueryMemo:
    """An embedder that remembers its last query vectors: a turn embeds the customer's message for the
    classifier and again for search (the same text unless typo repair changed it); the second is free."""

    def __init__(self, inner, size: int = 512):
        import threading
        from collections import OrderedDict

        self.inner = inner
        self.size = size
        self._memo: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, text: str):
        with self._lock:
            hit = self._memo.get(text)
            if hit is not None:
                self._memo.move_to_end(text)
                return hit.copy()
        vector = self.inner.embed_query(text)
        with self._lock:
            self._memo[text] = vector
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return vector.copy()

    def __getattr__(self, name):
        return getattr(self.inner, name)


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

        return QueryMemo(LocalEmbedder(threads=s.embed_threads))

    @cached_property
    def index(self):
        from knowledge.index import KnowledgeIndex

        return KnowledgeIndex(self.settings.data_dir, self.embedder, chroma_url=self.settings.chroma_url)

    @cached_property
    def searcher(self):
        from knowledge.retriever import PRIOR_WEIGHT, HybridSearcher

        weight = PRIOR_WEIGHT if self.settings.source_prior_weight is None else self.settings.source_prior_weight
        return HybridSearcher(self.index, prior=self.router if weight > 0 else None, prior_weight=weight)

    @cached_property
    def router(self):
        """P(document | question) for the searcher; reads MiniLM vectors (the search's own, when local)."""
        from triage.routing import SourceRouter

        fitted = self.models_dir / "router.joblib"
        return SourceRouter(self.local_embedder, path=fitted if fitted.exists() else None)

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

        return ExtractiveAnswerer(self.searcher, self.confidence_model, abstain_below=self.settings.abstain_below,
                                  scope=self.scope_model)

    @cached_property
    def scope_model(self):
        from triage.scope import ScopeModel

        fitted = self.models_dir / "scope.joblib"
        return ScopeModel(self.local_embedder, path=fitted if fitted.exists() else None)

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

    @cached_property
    def local_embedder(self):
        """The classifier always reads MiniLM vectors (it was trained on them), whatever the KB uses."""
        from knowledge.embeddings import LocalEmbedder

        inner = getattr(self.embedder, "inner", self.embedder)
        return self.embedder if isinstance(inner, LocalEmbedder) else QueryMemo(LocalEmbedder(threads=self.settings.embed_threads))

    @cached_property
    def classifier(self):
        from triage.classifier import MessageClassifier

        fitted = self.models_dir / "classifier.joblib"
        return MessageClassifier(self.local_embedder, path=fitted if fitted.exists() else None)

    @cached_property
    def policy_config(self):
        from triage.policy import PolicyConfig

        return PolicyConfig.load(self.settings.policy_file)

    @cached_property
    def policy(self):
        from triage.policy import EscalationPolicy

        return EscalationPolicy(self.policy_config)

    @cached_property
    def hours(self):
        from triage.hours import LiveChatHours

        return LiveChatHours(self.policy_config.hours)

    @cached_property
    def orders(self):
        """Orders live in the service database (SQLite in the data dir, or TRIAGE_DATABASE_URL)."""
        from api.db.store import SqlOrderSource

        return SqlOrderSource(self.store)

    @cached_property
    def store(self):
        """The SQL store (conversations, tickets, agents, event log, orders); migrates the schema on first use."""
        from api.db import default_url
        from api.db.store import SqlStore

        return SqlStore(self.settings.database_url or default_url(self.settings.data_dir))

    @cached_property
    def bus(self):
        """Wakes SSE readers after commits; Redis / PostgreSQL when TRIAGE_EVENTS_URL says so."""
        from api.events import make_bus

        bus = make_bus(self.settings.events_url)
        self.store.on_commit(bus.publish)
        return bus

    def service(self, clock=None):
        """The HTTP API's library: the SQL store, the bus and an Assistant writing to that store."""
        from api.service import Service

        s = self.settings
        policy_file = s.policy_file
        if policy_file is None:
            from triage.policy import shipped_policy_path

            policy_file = shipped_policy_path()
        self.bus  # subscribe the bus to the store's commits
        return Service(self.store, self.assistant(clock=clock, store=self.store), container=self,
                       policy_text=policy_file.read_text(encoding="utf-8"),
                       smtp=(s.smtp_url, s.smtp_from) if s.smtp_url else None)

    def ensure_sample_orders(self) -> None:
        if self.orders.count() == 0:
            self.orders.import_csv(sample_orders_csv())

    def assistant(self, clock=None, store=None, log_decisions: bool = True):
        from triage.assistant import Assistant
        from triage.clock import SystemClock
        from triage.conversation import InMemoryConversationStore

        llm_summarizer = None
        if self.settings.llm_enabled:
            from triage.summary import LLMSummarizer

            llm_summarizer = LLMSummarizer(self.chat_model)
        return Assistant(answerer=self.answerer, classifier=self.classifier, policy=self.policy, hours=self.hours,
                         orders=self.orders, store=store or InMemoryConversationStore(), clock=clock or SystemClock(),
                         llm_summarizer=llm_summarizer, log=self.decision_log if log_decisions else None)

    def decision_log(self, record: dict) -> None:
        """Every decision with its reasons, one JSON line, already redacted."""
        import json

        path = self.settings.data_dir / "decisions.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def ensure_sample_store(self) -> None:
        """Ingest the demo store if the knowledge base is empty."""
        if self.index.catalog.count_chunks() == 0:
            self.ingestor.ingest([display_path(sample_store_dir())])
