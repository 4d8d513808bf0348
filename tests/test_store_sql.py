"""The SQL conversation store on SQLite and on PostgreSQL: transactions, optimistic locking, the event log."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from triage.conversation import Conversation, Handoff, Message, Ticket
from triage.errors import ConflictError, IllegalTransitionError
from triage.state import State

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)


def pg_schema_url() -> tuple[str, str]:
    """A fresh PostgreSQL schema (tests never collide) and the URL whose connections use it."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(PG_BASE)
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema, f"{PG_BASE}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_BASE)
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'triage.sqlite'}"
        return
    schema, url = pg_schema_url()
    yield url
    drop_pg_schema(schema)


@pytest.fixture(scope="module")
def module_store(database_url):
    from api.db.store import SqlStore

    store = SqlStore(database_url)
    yield store
    store.close()


@pytest.fixture
def store(module_store):
    module_store.truncate()
    return module_store


def new_conv(store, cid="c1") -> Conversation:
    conv = Conversation(cid, T0, {"email": "a@example.com"})
    with store.transaction() as tx:
        tx.create_conversation(conv, token_hash="h")
        tx.append_message(cid, Message("customer", "hello", T0, {}, vector=[0.1, 0.2]), idempotency_key="k1")
        tx.add_event(cid, "message", {"text": "hello"}, T0)
    return conv


def test_migrations_are_idempotent_and_a_conversation_round_trips(store, database_url):
    from api.db.store import SqlStore

    SqlStore(database_url).close()  # a second start runs the migrations again: nothing to do, no error
    new_conv(store)
    conv = store.get("c1")
    assert conv.version == 1 and conv.state == State.BOT and conv.customer == {"email": "a@example.com"}
    assert conv.messages[0].text == "hello" and conv.messages[0].vector == [0.1, 0.2]
    assert conv.messages[0].at == T0 and conv.created_at == T0
    assert store.find_idempotent("c1", "k1").id == conv.messages[0].id and store.find_idempotent("c1", "k2") is None
    assert store.get("nope") is None


def test_a_failed_transaction_stores_nothing_and_publishes_nothing(store):
    new_conv(store)
    published = []
    store.on_commit(published.extend)
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.append_message("c1", Message("bot", "half a turn", T0))
            tx.add_event("c1", "message", {"text": "half"}, T0)
            raise RuntimeError("crash mid-turn")
    assert [m.text for m in store.get("c1").messages] == ["hello"]
    assert [e.seq for e in store.events_after("c1", 0)] == [1] and published == []
    with store.transaction() as tx:
        tx.add_event("c1", "typing", {"speaker": "agent"}, T0)
    assert [e.seq for e in published] == [2]  # published after the commit, with its sequence number
    store._handlers.clear()


def test_stale_version_is_a_conflict_and_state_moves_are_checked(store):
    conv = new_conv(store)
    with store.transaction() as tx:
        v = tx.change_state("c1", State.BOT, State.QUEUED, conv.version)
    assert v == 2
    with pytest.raises(ConflictError):
        with store.transaction() as tx:
            tx.change_state("c1", State.BOT, State.QUEUED, conv.version)  # read version 1: someone moved it since
    with pytest.raises(IllegalTransitionError):
        with store.transaction() as tx:
            tx.change_state("c1", State.QUEUED, State.TICKET, 2)
    assert store.get("c1").state == State.QUEUED and store.get("c1").version == 2


def test_two_agents_claim_concurrently_one_wins(store):
    new_conv(store)
    wins, conflicts = [], []
    barrier = threading.Barrier(2)

    def claim(agent):
        conv = store.get("c1")
        barrier.wait()
        try:
            with store.transaction() as tx:
                tx.change_state("c1", conv.state, State.QUEUED, conv.version, agent=agent)
            wins.append(agent)
        except ConflictError:
            conflicts.append(agent)

    threads = [threading.Thread(target=claim, args=(a,)) for a in ("ann", "bob")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(wins) == 1 and len(conflicts) == 1
    assert store.get("c1").agent == wins[0]


def test_duplicate_idempotency_key_is_refused(store):
    new_conv(store)
    with pytest.raises(ConflictError):
        with store.transaction() as tx:
            tx.append_message("c1", Message("customer", "hello again", T0), idempotency_key="k1")
    assert len(store.get("c1").messages) == 1


def test_event_log_sequences_and_replay(store):
    new_conv(store, "c1")
    new_conv(store, "c2")
    with store.transaction() as tx:
        for i in range(3):
            tx.add_event("c1", "message", {"i": i}, T0)
    assert [e.seq for e in store.events_after("c1", 0)] == [1, 2, 3, 4]
    assert [e.data.get("i") for e in store.events_after("c1", 2)] == [1, 2]
    gl = [e.global_seq for e in store.events_after("c1", 0) + store.events_after("c2", 0)]
    assert len(set(gl)) == 5 and store.last_global_seq() == max(gl)


def test_tickets_notes_handoffs_queue_order_and_stats(store):
    for cid, prio, minutes in (("a", "normal", 0), ("b", "urgent", 5), ("c", "normal", -5)):
        conv = new_conv(store, cid)
        with store.transaction() as tx:
            tx.change_state(cid, State.BOT, State.QUEUED, conv.version)
            tx.queue_handoff(Handoff(cid, [{"code": "human_request", "detail": "asked"}], {"paragraph": "p"}, prio,
                                     T0 + timedelta(minutes=minutes), "negative"))
    assert [h.conversation_id for h in store.queue()] == ["b", "c", "a"]
    with store.transaction() as tx:
        tx.change_state("b", State.QUEUED, State.HUMAN, 2, agent="ann")
        tx.update_handoff("b", claimed_at=T0 + timedelta(minutes=6), agent="ann")
        tx.update_handoff("b", first_agent_reply_at=T0 + timedelta(minutes=7))
        tx.update_handoff("b", first_agent_reply_at=T0 + timedelta(minutes=9))  # only the first counts
    assert [h.conversation_id for h in store.queue()] == ["c", "a"]
    conv = new_conv(store, "t")
    with store.transaction() as tx:
        tx.change_state("t", State.BOT, State.TICKET, conv.version, ticket_id="T-1")
        tx.create_ticket(Ticket("T-1", "t", T0, None, {"paragraph": "p"}, "high"))
        tx.add_ticket_note("T-1", "more detail")
    assert store.get_ticket("T-1").notes == ["more detail"]
    with store.transaction() as tx:
        tx.update_ticket("T-1", status="closed")
    assert store.list_tickets("closed")[0]["ticket_id"] == "T-1" and store.list_tickets("open") == []
    store.add_rating("b", 5, "great", T0 + timedelta(minutes=20))
    stats = store.stats(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert stats["conversations"] == 4 and stats["handoffs"] == 3 and stats["tickets"] == 1
    assert stats["first_response_seconds"] == {"mean": 120.0, "count": 1}  # queued 15:05, first reply 15:07
    assert stats["waiting_seconds"] == {"mean": 60.0, "count": 1}
    assert stats["automated_resolution_rate"] == 0.0 and stats["handoff_rate_by_reason"] == {"human_request": 0.75}
    assert stats["csat"] == {"mean": 5.0, "count": 1}


def test_agents_keys_are_stored_hashed(store):
    store.add_agent("ann", "secret-key-1", admin=True)
    assert store.agent_by_key("secret-key-1") == ("ann", True) and store.agent_by_key("wrong") is None
    import sqlalchemy as sa

    with store.engine.connect() as c:
        assert "secret-key-1" not in str(c.execute(sa.text("SELECT key_hash FROM agents")).all())
