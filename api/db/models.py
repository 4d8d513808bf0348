"""The service's tables (SQLAlchemy 2 declarative); the schema itself is created by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC (SQLite keeps no zone; PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database layer")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking
    last_seq: Mapped[int] = mapped_column(Integer, default=0)  # the event log's last sequence number
    customer: Mapped[dict] = mapped_column(JSON, default=dict)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[str | None] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(120), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict | None] = mapped_column(JSON)
    token_hash: Mapped[str | None] = mapped_column(String(64))


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "idempotency_key", name="uq_messages_idempotency"),
                      Index("ix_messages_conversation_position", "conversation_id", "position"))
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    agent: Mapped[str | None] = mapped_column(String(120))
    decision: Mapped[dict | None] = mapped_column(JSON)
    classification: Mapped[dict | None] = mapped_column(JSON)
    citations: Mapped[list | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    abstained: Mapped[bool | None] = mapped_column(Boolean)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)  # anything else the turn recorded
    vector: Mapped[list | None] = mapped_column(JSON)  # the customer message's embedding, plain floats
    idempotency_key: Mapped[str | None] = mapped_column(String(200))


class HandoffRow(Base):
    __tablename__ = "handoffs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    reasons: Mapped[list] = mapped_column(JSON)
    summary: Mapped[dict] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    queued_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    agent: Mapped[str | None] = mapped_column(String(120))
    first_agent_reply_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))


class TicketRow(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))
    summary: Mapped[dict] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)


class TicketNoteRow(Base):
    __tablename__ = "ticket_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)


class AgentRow(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of a 256-bit random key
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class MacroRow(Base):
    __tablename__ = "macros"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class RatingRow(Base):
    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_events_conversation_seq"),)
    global_seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime]


class OrderRow(Base):
    __tablename__ = "orders"
    order_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    zip: Mapped[str] = mapped_column(String(32))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(64), default="")
    tracking_number: Mapped[str] = mapped_column(String(128), default="")
    tracking_url: Mapped[str] = mapped_column(String(500), default="")
    placed_at: Mapped[str] = mapped_column(String(32), default="")
    shipped_at: Mapped[str] = mapped_column(String(32), default="")
    eta: Mapped[str] = mapped_column(String(32), default="")
    delivered_at: Mapped[str] = mapped_column(String(32), default="")
    total: Mapped[float] = mapped_column(Float, default=0.0)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    items: Mapped[str] = mapped_column(Text, default="")
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
