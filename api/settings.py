"""The one Settings class: environment variables ``TRIAGE_*`` and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path(".triage"), description="Everything the program stores: index, database, fitted models.")

    # knowledge base
    chroma_url: str | None = Field(None, description="Chroma server URL (client/server mode); unset = embedded PersistentClient.")
    embedder: Literal["local", "openai"] = Field("local", description="local all-MiniLM-L6-v2, or OpenAI-compatible embeddings.")
    embeddings_model: str = "text-embedding-3-small"
    embeddings_base_url: str | None = None
    embed_threads: int | None = Field(None, description="torch threads for local embeddings (default: all cores).")
    source_prior_weight: float | None = Field(None, ge=0.0, le=5.0, description=(
        "Weight of the learned 'which document is this question about' prior in search scores; 0 = off, "
        "unset = knowledge.retriever.PRIOR_WEIGHT."))

    # LLM (unset base URL and key = offline mode)
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server).")
    llm_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("TRIAGE_OPENAI_API_KEY", "OPENAI_API_KEY"))
    llm_timeout: float = 20.0
    max_context_tokens: int = Field(1800, ge=200, description="Token budget for retrieved context in LLM prompts.")

    # triage
    policy_file: Path | None = Field(None, description="Policy TOML (store, live-chat hours, escalation); default: shipped.")

    # answers
    abstain_below: float | None = Field(None, ge=0.0, le=1.0, description="Confidence threshold; unset = the calibrated default.")

    # service (`triage serve`)
    database_url: str | None = Field(None, description=(
        "SQLAlchemy URL of the service database (postgresql+psycopg://user@host/db); unset = SQLite (WAL) at "
        "DATA_DIR/triage.sqlite."))
    events_url: str | None = Field(None, description=(
        "What wakes other workers when events are written: redis://host:6379/0 (pub/sub) or postgresql://... "
        "(LISTEN/NOTIFY); unset = in-process (one worker)."))
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser (the chat widget).")
    rate_limit_per_token: int = Field(30, ge=1, description="Requests per minute per customer token or agent key.")
    rate_limit_per_ip: int = Field(120, ge=1, description="Requests per minute per client address.")
    max_message_chars: int = Field(2000, ge=1, description="Longest customer or agent message accepted (422 beyond).")
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body (413 beyond); uploads: max_upload_bytes.")
    max_upload_bytes: int = Field(10_000_000, ge=1024, description="Largest admin document upload.")
    smtp_url: str | None = Field(None, description="smtp://[user:password@]host:port to email transcripts; unset = off.")
    smtp_from: str = "support@example.com"
    sse_keepalive: float = Field(15.0, gt=0, description="Seconds between SSE keep-alive comments.")
    turn_threads: int = Field(2, ge=1, description="Worker threads running turns (the CPU-bound part).")

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url or self.openai_api_key)

    @property
    def tiktoken_cache_dir(self) -> Path:
        return self.data_dir / "cache" / "tiktoken"


@lru_cache
def get_settings() -> Settings:
    """The settings, or a ConfigurationError naming each bad ``TRIAGE_*`` value (never a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        from triage.errors import ConfigurationError

        problems = "; ".join(f"TRIAGE_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigurationError(f"bad setting (environment or .env): {problems}") from None
