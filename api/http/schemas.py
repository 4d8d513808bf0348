"""Request and response models of the HTTP API (pydantic), with the examples shown in /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 20000  # hard cap in the schema; TRIAGE_MAX_MESSAGE_CHARS (default 2000) is checked at run time

STATES = Literal["bot", "queued", "human", "resolved", "ticket"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no conversation C-0123456789"])


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS = {status: {"model": ErrorBody, "description": desc} for status, desc in {
    401: "missing or unknown key", 404: "no such resource (or not yours)", 409: "conflict / illegal state",
    413: "body too large", 422: "invalid input", 429: "rate limited (see Retry-After)"}.items()}


class NewConversation(Strict):
    name: str | None = Field(None, max_length=120, description="The customer's name, if the widget knows it.",
                             examples=["Maya"])


class ConversationCreated(BaseModel):
    conversation_id: str = Field(examples=["C-3f9a1c2b7d"])
    token: str = Field(description="Send as `Authorization: Bearer TOKEN` on every call about this conversation.",
                       examples=["9rV2lq...kP0"])
    state: STATES = Field(examples=["bot"])
    greeting: str = Field(examples=["Hi! I'm the store assistant. I can help with orders, shipping, returns..."])


class MessageIn(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT, examples=["how long do I have to return a jacket?"])


class Citation(BaseModel):
    source: str = Field(examples=["knowledge/sample_store/docs/returns.md"])
    title: str = Field(examples=["Returns & exchanges"])
    chunk_id: str = Field(examples=["returns.md#2"])


class Reply(BaseModel):
    text: str = Field(examples=["You can return unworn items within 30 days of delivery [1]."])
    citations: list[Citation]
    confidence: float | None = Field(examples=[0.83])
    abstained: bool = Field(examples=[False])


class Reason(BaseModel):
    code: str = Field(examples=["human_request"])
    detail: str = Field(examples=["pressed the talk-to-a-human button"])


class DecisionOut(BaseModel):
    handoff: bool
    reasons: list[Reason]
    priority: str = Field(examples=["normal"])


class TurnOut(BaseModel):
    message_id: str | None = Field(examples=["M-1b2c3d4e5f"])
    state: STATES
    reply: Reply | None = Field(description="null while a person has the chat")
    decision: DecisionOut
    ticket_id: str | None = Field(examples=[None])


class MessageOut(BaseModel):
    message_id: str
    speaker: Literal["customer", "bot", "agent", "system"]
    text: str
    at: datetime
    agent: str | None = None
    citations: list[Citation] | None = None
    classification: dict[str, Any] | None = None


class ConversationOut(BaseModel):
    conversation_id: str
    state: STATES
    created_at: datetime
    agent: str | None
    ticket_id: str | None
    messages: list[MessageOut]
    summary: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    strikes: int | None = None


class RatingIn(Strict):
    score: int = Field(ge=1, le=5, examples=[5])
    comment: str | None = Field(None, max_length=2000, examples=["Sam sorted it out in two minutes"])


class RatingOut(BaseModel):
    conversation_id: str
    score: int
    comment: str | None


class EmailIn(Strict):
    email: str = Field(max_length=320, pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", examples=["maya.chen@example.com"])


class Accepted(BaseModel):
    status: str = Field(examples=["sent"])


class QueueItem(BaseModel):
    conversation_id: str
    priority: str = Field(examples=["high"])
    reasons: list[Reason]
    summary: dict[str, Any]
    sentiment: str | None = Field(examples=["negative"])
    queued_at: datetime
    waiting_seconds: float = Field(examples=[42.0])


class StateOut(BaseModel):
    conversation_id: str
    state: STATES


class AgentMessageOut(BaseModel):
    message_id: str
    state: STATES


class TicketNote(BaseModel):
    at: datetime
    author: str
    text: str


class TicketOut(BaseModel):
    ticket_id: str
    conversation_id: str
    created_at: datetime
    email: str | None
    priority: str
    status: Literal["open", "closed"]
    summary: dict[str, Any]
    notes: list[TicketNote]


class MacroIn(Strict):
    name: str = Field(min_length=1, max_length=120, examples=["late-order"])
    body: str = Field(min_length=1, max_length=5000,
                      examples=["Hi {customer_name}, I've checked order {order_number}: it is on its way."])


class MacroOut(BaseModel):
    macro_id: int
    name: str
    body: str
    created_by: str
    created_at: datetime


class RenderIn(Strict):
    conversation_id: str = Field(min_length=1, max_length=64, examples=["C-3f9a1c2b7d"])


class RenderOut(BaseModel):
    macro_id: int
    conversation_id: str
    text: str
    variables: dict[str, str]


class Timing(BaseModel):
    mean: float | None
    count: int


class StatsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: datetime = Field(alias="from")
    to: datetime
    conversations: int
    handoffs: int
    tickets: int
    first_response_seconds: Timing
    waiting_seconds: Timing
    automated_resolution_rate: float | None
    handoff_rate_by_reason: dict[str, float]
    csat: Timing


class SourceOut(BaseModel):
    source: str
    title: str
    chunks: int
    ingested_at: str


class DeletedSource(BaseModel):
    source: str
    deleted_chunks: int


class JobOut(BaseModel):
    job_id: str
    filename: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None
    done: int
    total: int
    added: list[str]
    failed: list[str]


class PolicyOut(BaseModel):
    text: str = Field(description="The policy TOML in use.")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    models_loaded: bool
    database: bool
