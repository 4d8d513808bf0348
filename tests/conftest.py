"""Shared fixtures. Real components throughout; the only fake is at the network edge: every test
runs with outbound connections refused except to loopback, which proves the product is offline."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = REPO / "knowledge" / "sample_store" / "docs"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address) -> None:
    if isinstance(address, tuple):
        host = str(address[0])
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise ConnectionRefusedError(f"test network guard: connection to {host} blocked (offline tests)")


def _guarded_connect(self, address):
    _loopback_only(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _loopback_only(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def offline_network():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own data dir; no developer .env or API key leaks in."""
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    for var in ("OPENAI_API_KEY", "TRIAGE_OPENAI_API_KEY", "TRIAGE_LLM_BASE_URL", "TRIAGE_CHROMA_URL", "TRIAGE_EMBEDDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    from api.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embeddings import LocalEmbedder

    return LocalEmbedder()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder):
    """The demo store ingested once for the session (read-only use)."""
    from knowledge.index import KnowledgeIndex
    from knowledge.ingest import Ingestor

    data = tmp_path_factory.mktemp("sample-index")
    docs = data / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    index = KnowledgeIndex(data / "store", embedder)
    report = Ingestor(index).ingest([str(docs)])
    assert report.ok and len(report.added) >= 14
    return index


@pytest.fixture(scope="session")
def router(embedder):
    from triage.routing import SourceRouter

    return SourceRouter(embedder)


@pytest.fixture(scope="session")
def searcher(sample_index, router):
    """Search as the app wires it: hybrid scores plus the shipped source router."""
    from knowledge.retriever import HybridSearcher

    return HybridSearcher(sample_index, prior=router)


@pytest.fixture
def cli():
    """Invoke the Typer app in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from api.cli import app

    def run(*args: str, input: str | None = None):
        from api.settings import get_settings

        get_settings.cache_clear()
        result = CliRunner().invoke(app, list(args), input=input)
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def llm_server():
    from tests.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def confidence_model():
    from triage.confidence import ConfidenceModel

    return ConfidenceModel.load()


@pytest.fixture(scope="session")
def scope_model(embedder):
    from triage.scope import ScopeModel

    return ScopeModel(embedder)


@pytest.fixture
def extractive(searcher, confidence_model, scope_model):
    from triage.answers import ExtractiveAnswerer

    return ExtractiveAnswerer(searcher, confidence_model, scope=scope_model)


@pytest.fixture(scope="session")
def classifier(embedder):
    from triage.classifier import MessageClassifier

    return MessageClassifier(embedder)


@pytest.fixture(scope="session")
def policy_config():
    from triage.policy import PolicyConfig

    return PolicyConfig.load()


@pytest.fixture
def orders(tmp_path):
    from triage.orders import SqliteOrderSource

    source = SqliteOrderSource(tmp_path / "orders.sqlite")
    source.import_csv(REPO / "triage" / "data" / "sample_orders.csv")
    return source


@pytest.fixture
def make_assistant(extractive, classifier, policy_config, orders):
    """An Assistant on the demo store at a fixed time (ET)."""
    from datetime import datetime

    from triage.assistant import Assistant
    from triage.clock import FixedClock
    from triage.conversation import InMemoryConversationStore
    from triage.hours import LiveChatHours
    from triage.policy import EscalationPolicy

    def make(at: str = "2026-11-24T10:00:00-05:00", order_source=None):
        clock = FixedClock(datetime.fromisoformat(at))
        log: list[dict] = []
        assistant = Assistant(answerer=extractive, classifier=classifier, policy=EscalationPolicy(policy_config),
                              hours=LiveChatHours(policy_config.hours), orders=order_source or orders,
                              store=InMemoryConversationStore(), clock=clock, log=log.append)
        assistant.decision_log = log
        return assistant

    return make
