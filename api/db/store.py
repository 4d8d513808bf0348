"""The SQL conversation store (SQLite or PostgreSQL): the core's ``ConversationStore`` contract plus the
service's reads and writes (agents, queue, tickets, macros, ratings, stats, the event log).

Every write runs in one transaction; events go to the log in that transaction and the ``on_commit``
handlers (the wake-up bus) run only after it committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import Engine, and_, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, defer, sessionmaker

from api.db import make_engine, migrate
from api.db.models import (AgentRow, ConversationRow, EventRow, HandoffRow, MacroRow, MessageRow, RatingRow,
                           TicketNoteRow, TicketRow)
from triage.conversation import Conversation, Event, Handoff, Message, Ticket
from triage.errors import ConflictError, InvalidInputError, NotFoundError, OrderSourceError
from triage.state import State, transition

MESSAGE_COLUMNS = ("decision", "classification", "citations", "confidence", "abstained", "agent")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SqlStore:
    def __init__(self, url: str, *, run_migrations: bool = True):
        self.url = url
        self.engine: Engine = make_engine(url, immediate=True)
        # SQLite: readers use plain BEGIN so they never wait for the write lock (WAL)
        self.read_engine: Engine = make_engine(url) if url.startswith("sqlite") else self.engine
        if run_migrations:
            migrate(self.engine)
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._handlers: list[Callable[[list[Event]], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def ping(self) -> None:
        with self.read_engine.connect() as c:
            c.execute(text("SELECT 1"))

    # -- transactions --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["SqlTransaction"]:
        try:
            with self._write.begin() as session:
                tx = SqlTransaction(session, self.dialect)
                yield tx
                tx.finish()
        except IntegrityError as exc:
            raise ConflictError(f"a concurrent write got there first ({exc.orig.__class__.__name__}); retry") from None
        except OperationalError as exc:
            if "locked" in str(exc).lower() or "deadlock" in str(exc).lower():
                raise ConflictError("the database was busy; retry") from None
            raise
        for handler in self._handlers:
            handler(tx.events)

    def on_commit(self, handler: Callable[[list[Event]], None]) -> None:
        self._handlers.append(handler)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    # -- conversations -------------------------------------------------------------------------
    def get(self, conversation_id: str) -> Conversation | None:
        with self._reading() as s:
            row = s.get(ConversationRow, conversation_id)
            if row is None:
                return None
            # vectors only for the last few messages (the repeat check reads the previous customer message's)
            msgs = s.scalars(select(MessageRow).options(defer(MessageRow.vector))
                             .where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.position)).all()
            recent = {m.id for m in msgs[-3:]}
            vectors = dict(s.execute(select(MessageRow.id, MessageRow.vector).where(MessageRow.id.in_(recent))).all()) \
                if recent else {}
            return _conversation(row, msgs, vectors)

    def token_hash(self, conversation_id: str) -> str | None:
        with self._reading() as s:
            return s.scalar(select(ConversationRow.token_hash).where(ConversationRow.id == conversation_id))

    def list(self, state: State | None = None) -> list[Conversation]:
        with self._reading() as s:
            q = select(ConversationRow.id)
            if state is not None:
                q = q.where(ConversationRow.state == state.value)
            ids = s.scalars(q).all()
        return [c for c in (self.get(i) for i in ids) if c]

    def find_idempotent(self, conversation_id: str, key: str) -> Message | None:
        with self._reading() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.conversation_id == conversation_id,
                                                    MessageRow.idempotency_key == key))
            return _message(row) if row else None

    def message_after(self, conversation_id: str, message_id: str, speaker: str = "bot") -> Message | None:
        """The first ``speaker`` message stored after ``message_id`` (the bot's reply to a customer message)."""
        with self._reading() as s:
            pos = s.scalar(select(MessageRow.position).where(MessageRow.id == message_id))
            if pos is None:
                return None
            row = s.scalar(select(MessageRow).where(MessageRow.conversation_id == conversation_id,
                                                    MessageRow.position == pos + 1))
            return _message(row) if row is not None and row.speaker == speaker else None

    def count_messages(self) -> int:
        with self._reading() as s:
            return s.scalar(select(func.count()).select_from(MessageRow))

    def message_ids(self) -> set[str]:
        with self._reading() as s:
            return set(s.scalars(select(MessageRow.id)).all())

    # -- events --------------------------------------------------------------------------------
    def events_after(self, conversation_id: str, after: int, limit: int = 500) -> list[Event]:
        with self._reading() as s:
            rows = s.scalars(select(EventRow).where(EventRow.conversation_id == conversation_id, EventRow.seq > after)
                             .order_by(EventRow.seq).limit(limit)).all()
            return [_event(r) for r in rows]

    def agent_events_after(self, agent: str, after: int, limit: int = 500) -> list[Event]:
        """The agent stream: every `state` event (queue changes) and the messages of chats this agent holds."""
        with self._reading() as s:
            q = (select(EventRow).join(ConversationRow, ConversationRow.id == EventRow.conversation_id)
                 .where(EventRow.global_seq > after,
                        (EventRow.type == "state") | and_(EventRow.type.in_(("message", "typing")),
                                                          ConversationRow.agent == agent))
                 .order_by(EventRow.global_seq).limit(limit))
            return [_event(r) for r in s.scalars(q).all()]

    def last_global_seq(self) -> int:
        with self._reading() as s:
            return s.scalar(select(func.coalesce(func.max(EventRow.global_seq), 0)))

    # -- tickets -------------------------------------------------------------------------------
    def get_ticket(self, ticket_id: str) -> Ticket | None:
        with self._reading() as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                return None
            notes = s.scalars(select(TicketNoteRow.text).where(TicketNoteRow.ticket_id == ticket_id)
                              .order_by(TicketNoteRow.id)).all()
            return Ticket(row.id, row.conversation_id, row.created_at, row.email, row.summary, row.priority,
                          list(notes), row.status)

    def list_tickets(self, status: str | None = None) -> list[dict]:
        with self._reading() as s:
            q = select(TicketRow).order_by(TicketRow.created_at)
            if status:
                q = q.where(TicketRow.status == status)
            out = []
            for row in s.scalars(q).all():
                notes = s.execute(select(TicketNoteRow.at, TicketNoteRow.author, TicketNoteRow.text)
                                  .where(TicketNoteRow.ticket_id == row.id).order_by(TicketNoteRow.id)).all()
                out.append({"ticket_id": row.id, "conversation_id": row.conversation_id, "created_at": row.created_at,
                            "email": row.email, "priority": row.priority, "status": row.status,
                            "summary": row.summary,
                            "notes": [{"at": n.at, "author": n.author, "text": n.text} for n in notes]})
            return out

    # -- handoffs and the queue ----------------------------------------------------------------
    def handoffs(self, conversation_id: str) -> list[Handoff]:
        with self._reading() as s:
            rows = s.scalars(select(HandoffRow).where(HandoffRow.conversation_id == conversation_id)
                             .order_by(HandoffRow.queued_at)).all()
            return [_handoff(r) for r in rows]

    def queue(self) -> list[Handoff]:
        """Waiting handoffs: highest priority first, then longest waiting."""
        with self._reading() as s:
            rows = s.scalars(select(HandoffRow).join(ConversationRow, ConversationRow.id == HandoffRow.conversation_id)
                             .where(HandoffRow.claimed_at.is_(None), HandoffRow.resolved_at.is_(None),
                                    ConversationRow.state == State.QUEUED.value)).all()
            items = [_handoff(r) for r in rows]
        return sorted(items, key=lambda h: (PRIORITY_RANK.get(h.priority, 9), h.queued_at))

    # -- agents --------------------------------------------------------------------------------
    def add_agent(self, name: str, key: str, admin: bool = False) -> None:
        try:
            with self._write.begin() as s:
                s.add(AgentRow(name=name, key_hash=hash_key(key), is_admin=admin, created_at=utcnow()))
        except IntegrityError:
            raise InvalidInputError(f"an agent named {name!r} already exists") from None

    def agent_by_key(self, key: str) -> tuple[str, bool] | None:
        with self._reading() as s:
            row = s.scalar(select(AgentRow).where(AgentRow.key_hash == hash_key(key)))
            return (row.name, row.is_admin) if row else None

    def count_agents(self) -> int:
        with self._reading() as s:
            return s.scalar(select(func.count()).select_from(AgentRow))

    # -- macros --------------------------------------------------------------------------------
    def create_macro(self, name: str, body: str, author: str) -> dict:
        try:
            with self._write.begin() as s:
                row = MacroRow(name=name, body=body, created_by=author, created_at=utcnow())
                s.add(row)
                s.flush()
                return _macro(row)
        except IntegrityError:
            raise ConflictError(f"a macro named {name!r} already exists") from None

    def list_macros(self) -> list[dict]:
        with self._reading() as s:
            return [_macro(r) for r in s.scalars(select(MacroRow).order_by(MacroRow.name)).all()]

    def get_macro(self, macro_id: int) -> dict | None:
        with self._reading() as s:
            row = s.get(MacroRow, macro_id)
            return _macro(row) if row else None

    # -- ratings -------------------------------------------------------------------------------
    def add_rating(self, conversation_id: str, score: int, comment: str | None, at: datetime) -> None:
        with self._write.begin() as s:
            s.add(RatingRow(conversation_id=conversation_id, score=score, comment=comment, at=at))

    # -- stats ---------------------------------------------------------------------------------
    def stats(self, start: datetime, end: datetime) -> dict:
        """First response, waiting, automated resolution, handoff rate by reason and CSAT, for chats begun in range."""
        with self._reading() as s:
            convs = s.scalar(select(func.count()).select_from(ConversationRow)
                             .where(ConversationRow.created_at >= start, ConversationRow.created_at < end))
            hs = s.scalars(select(HandoffRow).join(ConversationRow, ConversationRow.id == HandoffRow.conversation_id)
                           .where(ConversationRow.created_at >= start, ConversationRow.created_at < end)).all()
            ticketed = s.scalar(select(func.count(func.distinct(TicketRow.conversation_id)))
                                .join(ConversationRow, ConversationRow.id == TicketRow.conversation_id)
                                .where(ConversationRow.created_at >= start, ConversationRow.created_at < end))
            ratings = s.scalars(select(RatingRow.score).where(RatingRow.at >= start, RatingRow.at < end)).all()
        waits = [(h.claimed_at - h.queued_at).total_seconds() for h in hs if h.claimed_at]
        firsts = [(h.first_agent_reply_at - h.queued_at).total_seconds() for h in hs if h.first_agent_reply_at]
        escalated = len({h.conversation_id for h in hs}) + (ticketed or 0)
        by_reason: dict[str, int] = {}
        for h in hs:
            for r in h.reasons:
                by_reason[r["code"]] = by_reason.get(r["code"], 0) + 1

        def mean(xs):
            return round(sum(xs) / len(xs), 1) if xs else None

        return {"conversations": convs, "handoffs": len(hs), "tickets": ticketed or 0,
                "first_response_seconds": {"mean": mean(firsts), "count": len(firsts)},
                "waiting_seconds": {"mean": mean(waits), "count": len(waits)},
                "automated_resolution_rate": round(1 - escalated / convs, 3) if convs else None,
                "handoff_rate_by_reason": {k: round(v / convs, 3) for k, v in sorted(by_reason.items())} if convs else {},
                "csat": {"mean": mean(ratings), "count": len(ratings)}}

    # -- test support --------------------------------------------------------------------------
    def truncate(self) -> None:
        with self._write.begin() as s:
            for table in (EventRow, RatingRow, MacroRow, AgentRow, TicketNoteRow, TicketRow, HandoffRow, MessageRow,
                          ConversationRow):
                s.execute(delete(table))


class SqlTransaction:
    """The fine-grained writes of one transaction (see ``triage.conversation.StoreTransaction``)."""

    def __init__(self, session: Session, dialect: str):
        self.s = session
        self.dialect = dialect
        self.events: list[Event] = []
        self._positions: dict[str, int] = {}
        self._seqs: dict[str, int] = {}
        self._rows: list[EventRow] = []
        self._locked = False

    def create_conversation(self, conv: Conversation, token_hash: str | None = None) -> None:
        self.s.add(ConversationRow(id=conv.id, created_at=conv.created_at, updated_at=conv.created_at,
                                   state=conv.state.value, version=1, last_seq=0, customer=dict(conv.customer),
                                   strikes=conv.strikes, pending=conv.pending, agent=conv.agent,
                                   ticket_id=conv.ticket_id, summary=conv.summary, token_hash=token_hash))
        try:
            self.s.flush()
        except IntegrityError:
            raise ConflictError(f"conversation {conv.id} already exists") from None
        conv.version = 1

    def update_conversation(self, conversation_id: str, expected_version: int, **fields) -> int:
        values = {k: (v.value if isinstance(v, State) else v) for k, v in fields.items()}
        result = self.s.execute(update(ConversationRow)
                                .where(ConversationRow.id == conversation_id, ConversationRow.version == expected_version)
                                .values(**values, updated_at=utcnow(), version=ConversationRow.version + 1)
                                .returning(ConversationRow.version))
        new = result.scalar()
        if new is None:
            exists = self.s.scalar(select(ConversationRow.version).where(ConversationRow.id == conversation_id))
            if exists is None:
                raise NotFoundError(f"no conversation {conversation_id}")
            raise ConflictError(f"conversation {conversation_id} changed meanwhile (version {exists}, expected "
                                f"{expected_version}); reload and retry")
        return new

    def change_state(self, conversation_id: str, current: State, target: State, expected_version: int,
                     **fields) -> int:
        transition(current, target)
        return self.update_conversation(conversation_id, expected_version, state=target, **fields)

    def append_message(self, conversation_id: str, message: Message, idempotency_key: str | None = None) -> None:
        if conversation_id not in self._positions:
            self._positions[conversation_id] = self.s.scalar(
                select(func.coalesce(func.max(MessageRow.position), -1)).where(MessageRow.conversation_id == conversation_id))
        self._positions[conversation_id] += 1
        meta = dict(message.meta)
        cols = {k: meta.pop(k, None) for k in MESSAGE_COLUMNS}
        self.s.add(MessageRow(id=message.id, conversation_id=conversation_id, position=self._positions[conversation_id],
                              speaker=message.speaker, text=message.text, at=message.at, meta=meta,
                              vector=message.vector, idempotency_key=idempotency_key, **cols))

    def create_ticket(self, ticket: Ticket) -> None:
        self.s.add(TicketRow(id=ticket.id, conversation_id=ticket.conversation_id, created_at=ticket.created_at,
                             email=ticket.email, summary=ticket.summary, priority=ticket.priority, status=ticket.status))
        self.s.flush()
        for note in ticket.notes:
            self.add_ticket_note(ticket.id, note)

    def add_ticket_note(self, ticket_id: str, text_: str, author: str = "customer") -> None:
        self.s.add(TicketNoteRow(ticket_id=ticket_id, at=utcnow(), author=author, text=text_))

    def update_ticket(self, ticket_id: str, **fields) -> None:
        result = self.s.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(**fields))
        if result.rowcount == 0:
            raise NotFoundError(f"no ticket {ticket_id}")

    def queue_handoff(self, h: Handoff) -> None:
        self.s.add(HandoffRow(id=h.id, conversation_id=h.conversation_id, reasons=h.reasons, summary=h.summary,
                              priority=h.priority, sentiment=h.sentiment, queued_at=h.queued_at))

    def update_handoff(self, conversation_id: str, **fields) -> None:
        self.s.flush()
        row = self.s.scalar(select(HandoffRow).where(HandoffRow.conversation_id == conversation_id,
                                                     HandoffRow.resolved_at.is_(None))
                            .order_by(HandoffRow.queued_at.desc()).limit(1))
        if row is None:
            return
        for k, v in fields.items():
            if k == "first_agent_reply_at" and row.first_agent_reply_at is not None:
                continue
            setattr(row, k, v)

    def add_event(self, conversation_id: str, type: str, data: dict, at: datetime) -> Event:
        """Append to the conversation's log; sequence numbers are taken under the row lock, rows flushed at commit."""
        if self.dialect == "postgresql" and not self._locked:
            # event-writing transactions commit in global_seq order, so a reader never skips a late commit
            self.s.execute(text("SELECT pg_advisory_xact_lock(72618)"))
            self._locked = True
        if conversation_id not in self._seqs:
            self.s.flush()
            last = self.s.scalar(select(ConversationRow.last_seq).where(ConversationRow.id == conversation_id)
                                 .with_for_update())
            if last is None:
                raise NotFoundError(f"no conversation {conversation_id}")
            self._seqs[conversation_id] = last
        self._seqs[conversation_id] += 1
        row = EventRow(conversation_id=conversation_id, seq=self._seqs[conversation_id], type=type,
                       data=_jsonable(data), at=at)
        self._rows.append(row)
        return _event(row)

    def finish(self) -> None:
        """Write the log rows and the conversations' last sequence numbers (called just before commit)."""
        if not self._rows:
            return
        self.s.add_all(self._rows)
        for cid, seq in self._seqs.items():
            self.s.execute(update(ConversationRow).where(ConversationRow.id == cid).values(last_seq=seq))
        self.s.flush()
        self.events = [_event(r) for r in self._rows]


def _jsonable(data):
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    if isinstance(data, datetime):
        return data.isoformat()
    return data


def _message(row: MessageRow, vector: list | None = None, *, with_vector: bool = True) -> Message:
    meta = dict(row.meta or {})
    for k in MESSAGE_COLUMNS:
        v = getattr(row, k)
        if v is not None:
            meta[k] = v
    return Message(row.speaker, row.text, row.at, meta, id=row.id,
                   vector=vector if not with_vector else row.vector)


def _conversation(row: ConversationRow, msgs, vectors: dict) -> Conversation:
    return Conversation(row.id, row.created_at, dict(row.customer or {}), State(row.state),
                        [_message(m, vectors.get(m.id), with_vector=False) for m in msgs],
                        row.strikes, row.pending, row.agent, row.ticket_id, row.summary, version=row.version)


def _event(row: EventRow) -> Event:
    return Event(conversation_id=row.conversation_id, seq=row.seq, global_seq=row.global_seq or 0, type=row.type,
                 data=row.data, at=row.at)


def _handoff(r: HandoffRow) -> Handoff:
    return Handoff(r.conversation_id, r.reasons, r.summary, r.priority, r.queued_at, r.sentiment, r.claimed_at,
                   r.agent, r.first_agent_reply_at, r.resolved_at, r.outcome, id=r.id)


def _macro(r: MacroRow) -> dict:
    return {"macro_id": r.id, "name": r.name, "body": r.body, "created_by": r.created_by, "created_at": r.created_at}


class SqlOrderSource:
    """Orders in the service database (same layer, bound parameters only)."""

    def __init__(self, store: SqlStore):
        self.store = store

    def get(self, order_number: str):
        from api.db.models import OrderRow
        from triage.orders import Order, normalize_order_number

        try:
            with self.store._reading() as s:
                row = s.get(OrderRow, normalize_order_number(order_number))
        except OperationalError as exc:
            raise OrderSourceError(f"order lookup failed ({exc.orig})") from exc
        if row is None:
            return None
        return Order(**{c: getattr(row, c) for c in Order.__dataclass_fields__})

    def count(self) -> int:
        from api.db.models import OrderRow

        with self.store._reading() as s:
            return s.scalar(select(func.count()).select_from(OrderRow))

    def import_orders(self, orders) -> int:
        from dataclasses import asdict

        from api.db.models import OrderRow

        with self.store._write.begin() as s:
            for o in orders:
                s.merge(OrderRow(**asdict(o)))
        return len(orders)

    def import_csv(self, csv_path) -> int:
        from triage.orders import read_orders_csv

        return self.import_orders(read_orders_csv(csv_path))
