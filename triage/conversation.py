"""Conversations, tickets, and the Protocols for where they live and how events travel.

``ConversationStore`` and ``EventBus`` are Protocols: the in-memory versions here serve the CLI
and tests; database- and broker-backed ones plug in behind the same methods.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from triage.state import State, transition


@dataclass
class Message:
    speaker: str  # customer | bot | agent | system
    text: str
    at: datetime
    meta: dict = field(default_factory=dict)


@dataclass
class Ticket:
    id: str
    conversation_id: str
    created_at: datetime
    email: str | None
    summary: dict
    priority: str
    notes: list[str] = field(default_factory=list)


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
    vectors: dict[int, object] = field(default_factory=dict, repr=False)  # message index -> embedding

    def add(self, speaker: str, text: str, at: datetime, **meta) -> Message:
        msg = Message(speaker, text, at, meta)
        self.messages.append(msg)
        return msg

    def move(self, target: State) -> None:
        self.state = transition(self.state, target)

    def customer_texts(self) -> list[str]:
        return [m.text for m in self.messages if m.speaker == "customer"]


class ConversationStore(Protocol):
    def get(self, conversation_id: str) -> Conversation | None: ...

    def save(self, conversation: Conversation) -> None: ...

    def create_ticket(self, ticket: Ticket) -> None: ...

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def list(self, state: State | None = None) -> list[Conversation]: ...


class InMemoryConversationStore:
    def __init__(self):
        self._conversations: dict[str, Conversation] = {}
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> Conversation | None:
        return self._conversations.get(conversation_id)

    def save(self, conversation: Conversation) -> None:
        with self._lock:
            self._conversations[conversation.id] = conversation

    def create_ticket(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets[ticket.id] = ticket

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def list(self, state: State | None = None) -> list[Conversation]:
        return [c for c in self._conversations.values() if state is None or c.state == state]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


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
