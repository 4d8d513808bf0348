"""Conversations, tickets, events, and the Protocols for where they live and how events travel.

``ConversationStore`` is a Protocol with fine-grained, transactional writes: a turn opens one
:meth:`ConversationStore.transaction` and appends its messages, moves the state *with the version
it read* (optimistic locking: a concurrent writer gets :class:`~triage.errors.ConflictError`), adds
ticket notes and writes its events to the conversation's log, all committed together; events are
published only after the commit. The in-memory store here serves the CLI and tests; the SQL store
(``api/db``) is the service's, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import copy
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from triage.errors import ConflictError, NotFoundError
from triage.state import State, transition


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_token() -> str:
    """An unguessable bearer token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass
class Message:
    speaker: str  # customer | bot | agent | system
    text: str
    at: datetime
    meta: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_id("M"))
    vector: list[float] | None = field(default=None, repr=False)  # the customer message's embedding (plain floats)


@dataclass
class Ticket:
    id: str
    conversation_id: str
    created_at: datetime
    email: str | None
    summary: dict
    priority: str
    notes: list[str] = field(default_factory=list)
    status: str = "open"


@dataclass
class Handoff:
    """A chat waiting for (or held by) a person: why, how urgent, and its timeline."""

    conversation_id: str
    reasons: list[dict]
    summary: dict
    priority: str
    queued_at: datetime
    sentiment: str | None = None
    claimed_at: datetime | None = None
    agent: str | None = None
    first_agent_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None  # resolved | released
    id: str = field(default_factory=lambda: new_id("H"))


@dataclass
class Conversation:
    id: str
    created_at: datetime
    customer: dict = field(default_factory=dict)  # e.g. {"vip": true, "email": "..."}
    state: State = State.BOT
    messages: list[Message] = field(default_factory=list)
    strikes: int = 0
    pending: str | None = None  # what the bot is waiting for ("order_details", "email")
    agent: str | None = None
    ticket_id: str | None = None
    summary: dict | None = None
    decisions: list[dict] = field(default_factory=list)
    version: int = 0  # 0: not stored yet; every committed change adds one (optimistic locking)

    def add(self, speaker: str, text: str, at: datetime, **meta) -> Message:
        msg = Message(speaker, text, at, meta)
        self.messages.append(msg)
        return msg

    def move(self, target: State) -> None:
        self.state = transition(self.state, target)

    def customer_texts(self) -> list[str]:
        return [m.text for m in self.messages if m.speaker == "customer"]

    def fields(self) -> dict:
        """The conversation row's mutable columns (what ``update_conversation`` writes)."""
        return {"state": self.state, "customer": self.customer, "strikes": self.strikes, "pending": self.pending,
                "agent": self.agent, "ticket_id": self.ticket_id, "summary": self.summary}


class Event(BaseModel):
    """One entry of a conversation's event log; ``seq`` orders a conversation, ``global_seq`` all of them."""

    conversation_id: str
    seq: int = Field(description="The conversation's sequence number (SSE `id:`).")
    global_seq: int = Field(0, description="Sequence number across all conversations (the agent stream's `id:`).")
    type: str = Field(description="message | state | typing | bot_token")
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class StoreTransaction(Protocol):
    """Writes inside one transaction; nothing is visible (or published) until it commits."""

    def create_conversation(self, conv: Conversation, token_hash: str | None = None) -> None: ...

    def update_conversation(self, conversation_id: str, expected_version: int, **fields) -> int:
        """Write the given columns if the stored version is ``expected_version``; returns the new version."""

    def change_state(self, conversation_id: str, current: State, target: State, expected_version: int,
                     **fields) -> int: ...

    def append_message(self, conversation_id: str, message: Message, idempotency_key: str | None = None) -> None: ...

    def create_ticket(self, ticket: Ticket) -> None: ...

    def add_ticket_note(self, ticket_id: str, text: str, author: str = "customer") -> None: ...

    def update_ticket(self, ticket_id: str, **fields) -> None: ...

    def queue_handoff(self, handoff: Handoff) -> None: ...

    def update_handoff(self, conversation_id: str, **fields) -> None:
        """Set timeline fields on the conversation's open handoff (claimed, first reply, resolved)."""

    def add_event(self, conversation_id: str, type: str, data: dict, at: datetime) -> Event: ...


class ConversationStore(Protocol):
    def get(self, conversation_id: str) -> Conversation | None: ...

    def transaction(self) -> Any:  # a context manager yielding a StoreTransaction
        ...

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def list(self, state: State | None = None) -> list[Conversation]: ...

    def events_after(self, conversation_id: str, after: int, limit: int = 500) -> list[Event]: ...

    def find_idempotent(self, conversation_id: str, key: str) -> Message | None: ...

    def on_commit(self, handler: Callable[[list[Event]], None]) -> None: ...


class InMemoryConversationStore:
    """The same transactional contract in memory (CLI, tests, evals); a transaction applies on exit."""

    def __init__(self):
        self._conversations: dict[str, Conversation] = {}
        self._tickets: dict[str, Ticket] = {}
        self._handoffs: dict[str, list[Handoff]] = {}
        self._events: dict[str, list[Event]] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._global = 0
        self._lock = threading.RLock()
        self._handlers: list[Callable[[list[Event]], None]] = []

    def get(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            conv = self._conversations.get(conversation_id)
            return copy.deepcopy(conv) if conv else None

    @contextmanager
    def transaction(self) -> Iterator["_MemoryTransaction"]:
        with self._lock:
            tx = _MemoryTransaction(self)
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
        for handler in self._handlers:
            handler(tx.events)

    def on_commit(self, handler: Callable[[list[Event]], None]) -> None:
        self._handlers.append(handler)

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        with self._lock:
            t = self._tickets.get(ticket_id)
            return copy.deepcopy(t) if t else None

    def list(self, state: State | None = None) -> list[Conversation]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._conversations.values() if state is None or c.state == state]

    def handoffs(self, conversation_id: str) -> list[Handoff]:
        with self._lock:
            return copy.deepcopy(self._handoffs.get(conversation_id, []))

    def events_after(self, conversation_id: str, after: int, limit: int = 500) -> list[Event]:
        with self._lock:
            return [e for e in self._events.get(conversation_id, []) if e.seq > after][:limit]

    def find_idempotent(self, conversation_id: str, key: str) -> Message | None:
        with self._lock:
            mid = self._keys.get((conversation_id, key))
            conv = self._conversations.get(conversation_id)
            return next((copy.deepcopy(m) for m in conv.messages if m.id == mid), None) if mid and conv else None


class _MemoryTransaction:
    """Applies writes as they come, under the store lock; :meth:`rollback` undoes them all if the block raises."""

    def __init__(self, store: InMemoryConversationStore):
        self.store = store
        self.ops: list[Callable[[], None]] = []
        self.events: list[Event] = []
        self._saved: dict[tuple[str, str], object] = {}  # (table, key) -> the value before this transaction

    def _touch(self, table: str, key) -> None:
        if (table, key) not in self._saved:
            self._saved[(table, key)] = copy.deepcopy(getattr(self.store, table).get(key, _MISSING))

    def rollback(self) -> None:
        for (table, key), value in self._saved.items():
            if value is _MISSING:
                getattr(self.store, table).pop(key, None)
            else:
                getattr(self.store, table)[key] = value
        self.store._global -= len(self.events)

    def _conv(self, conversation_id: str) -> Conversation:
        conv = self.store._conversations.get(conversation_id)
        if conv is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        self._touch("_conversations", conversation_id)
        return self.store._conversations[conversation_id]

    def create_conversation(self, conv: Conversation, token_hash: str | None = None) -> None:
        if conv.id in self.store._conversations:
            raise ConflictError(f"conversation {conv.id} already exists")
        self._touch("_conversations", conv.id)
        self._touch("_events", conv.id)
        stored = copy.deepcopy(conv)
        stored.messages, stored.version = [], 1
        self.store._conversations[conv.id] = stored
        self.store._events.setdefault(conv.id, [])
        conv.version = 1

    def update_conversation(self, conversation_id: str, expected_version: int, **fields) -> int:
        conv = self._conv(conversation_id)
        if conv.version != expected_version:
            raise ConflictError(f"conversation {conversation_id} changed meanwhile (version {conv.version}, "
                                f"expected {expected_version}); reload and retry")
        fields = copy.deepcopy(fields)
        for k, v in fields.items():
            setattr(conv, k, v)
        conv.version += 1
        return conv.version

    def change_state(self, conversation_id: str, current: State, target: State, expected_version: int,
                     **fields) -> int:
        transition(current, target)
        return self.update_conversation(conversation_id, expected_version, state=target, **fields)

    def append_message(self, conversation_id: str, message: Message, idempotency_key: str | None = None) -> None:
        conv = self._conv(conversation_id)
        if idempotency_key:
            if (conversation_id, idempotency_key) in self.store._keys:
                raise ConflictError(f"idempotency key {idempotency_key!r} already used")
            self._touch("_keys", (conversation_id, idempotency_key))
            self.store._keys[(conversation_id, idempotency_key)] = message.id
        conv.messages.append(copy.deepcopy(message))

    def create_ticket(self, ticket: Ticket) -> None:
        self._touch("_tickets", ticket.id)
        self.store._tickets[ticket.id] = copy.deepcopy(ticket)

    def add_ticket_note(self, ticket_id: str, text: str, author: str = "customer") -> None:
        if ticket_id in self.store._tickets:
            self._touch("_tickets", ticket_id)
            self.store._tickets[ticket_id].notes.append(text)

    def update_ticket(self, ticket_id: str, **fields) -> None:
        if ticket_id not in self.store._tickets:
            raise NotFoundError(f"no ticket {ticket_id}")
        self._touch("_tickets", ticket_id)
        for k, v in fields.items():
            setattr(self.store._tickets[ticket_id], k, v)

    def queue_handoff(self, handoff: Handoff) -> None:
        self._touch("_handoffs", handoff.conversation_id)
        self.store._handoffs.setdefault(handoff.conversation_id, []).append(copy.deepcopy(handoff))

    def update_handoff(self, conversation_id: str, **fields) -> None:
        self._touch("_handoffs", conversation_id)
        for h in reversed(self.store._handoffs.get(conversation_id, [])):
            if h.resolved_at is None:
                for k, v in fields.items():
                    if k == "first_agent_reply_at" and h.first_agent_reply_at is not None:
                        continue
                    setattr(h, k, v)
                return

    def add_event(self, conversation_id: str, type: str, data: dict, at: datetime) -> Event:
        self._touch("_events", conversation_id)
        log = self.store._events.setdefault(conversation_id, [])
        self.store._global += 1
        event = Event(conversation_id=conversation_id, seq=len(log) + 1, global_seq=self.store._global, type=type,
                      data=copy.deepcopy(data), at=at)
        log.append(event)
        self.events.append(event)
        return event



_MISSING = object()


class EventBus(Protocol):
    def publish(self, event: dict) -> None: ...

    def subscribe(self, handler: Callable[[dict], None]) -> None: ...


class InProcessEventBus:
    """Delivers events to subscribers in this process (agents' consoles, logs, tests)."""

    def __init__(self):
        self._handlers: list[Callable[[dict], None]] = []

    def publish(self, event: dict) -> None:
        for handler in list(self._handlers):
            handler(event)

    def subscribe(self, handler: Callable[[dict], None]) -> None:
        self._handlers.append(handler)
