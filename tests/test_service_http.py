"""The HTTP service without the models: error bodies, token scoping, agent auth, claim race, limits, CORS,
SSE replay. A real uvicorn server on a free loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from tests.test_store_sql import database_url  # noqa: F401  (parametrized: sqlite, postgresql)
from triage.conversation import Handoff
from triage.state import State

IN_HOURS = "2026-11-24T10:00:00-05:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app):
    """Serve ``app`` with uvicorn on 127.0.0.1:PORT in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def read_sse(client: httpx.Client, url: str, headers: dict | None = None, *, until=None, timeout: float = 15.0,
             on_open=None) -> list[dict]:
    """Read SSE events ({"id", "event", "data"}) until ``until(events)`` is true or ``timeout`` passes."""
    import json

    events: list[dict] = []
    deadline = time.monotonic() + timeout
    with client.stream("GET", url, headers=headers, timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        if on_open:
            on_open()
        current: dict = {}
        for line in r.iter_lines():
            if line == "":
                if "data" in current:
                    events.append({"id": int(current["id"]), "event": current.get("event"),
                                   "data": json.loads(current["data"])})
                    if until and until(events):
                        break
                current = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                current[key] = value.lstrip()
            if time.monotonic() > deadline:
                break
    return events


@dataclass
class Live:
    url: str
    app: object
    container: object
    clock: object
    agent_key: str
    other_key: str


def make_container(database_url, data_dir, **overrides):
    from api.settings import Settings
    from api.wiring import Container

    settings = Settings(data_dir=data_dir, database_url=database_url, sse_keepalive=0.3,
                        **{"rate_limit_per_token": 1000, "rate_limit_per_ip": 100000, **overrides})
    return Container(settings)


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):  # noqa: F811
    from api.http.app import create_app
    from api.service import add_agent
    from triage.clock import FixedClock

    container = make_container(database_url, tmp_path_factory.mktemp("svc"), cors_origins=["https://shop.example"],
                               max_body_bytes=4096, max_message_chars=500)
    container.store.truncate()
    clock = FixedClock(datetime.fromisoformat(IN_HOURS))
    app = create_app(container, clock=clock, warm=False)
    keys = add_agent(container.store, "Sam"), add_agent(container.store, "Ann", admin=True)
    with running(app) as url:
        yield Live(url, app, container, clock, *keys)
    container.store.close()


@pytest.fixture
def client(live):
    with httpx.Client(base_url=live.url, timeout=10) as c:
        yield c


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def queued_conversation(live, client) -> tuple[str, str]:
    """A conversation waiting for a person (put in the queue directly: no models in this module)."""
    r = client.post("/v1/conversations", json={"name": "Maya"})
    assert r.status_code == 201
    body = r.json()
    cid = body["conversation_id"]
    store = live.container.store
    conv = store.get(cid)
    with store.transaction() as tx:
        tx.change_state(cid, State.BOT, State.QUEUED, conv.version, summary={"paragraph": "wants a person"})
        tx.queue_handoff(Handoff(cid, [{"code": "human_request", "detail": "asked"}], {"paragraph": "wants a person"},
                                 "normal", live.clock.now(), "neutral"))
        tx.add_event(cid, "state", {"state": "queued"}, live.clock.now())
    return cid, body["token"]


def test_create_conversation_contract_and_token_scoping(live, client):
    r = client.post("/v1/conversations")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"conversation_id", "token", "state", "greeting"} and body["state"] == "bot"
    assert len(body["token"]) >= 40 and body["greeting"]
    mine = client.get(f"/v1/conversations/{body['conversation_id']}", headers=bearer(body["token"]))
    assert mine.status_code == 200 and mine.json()["messages"][0]["speaker"] == "bot"
    other = client.post("/v1/conversations").json()
    for headers in (bearer(other["token"]), {}, bearer("nonsense")):  # another's token, none, garbage: 404 alike
        r = client.get(f"/v1/conversations/{body['conversation_id']}", headers=headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = client.post(f"/v1/conversations/{body['conversation_id']}/messages", json={"text": "hi"}, headers=headers)
        assert r.status_code == 404
    assert "Maya" not in str(mine.json())  # nothing of another conversation leaks


def test_every_error_is_json_with_a_code(live, client):
    conv = client.post("/v1/conversations").json()
    h = bearer(conv["token"])
    cases = [
        (client.get("/v1/nowhere"), 404, "not_found"),
        (client.delete("/v1/conversations"), 405, "method_not_allowed"),
        (client.post(f"/v1/conversations/{conv['conversation_id']}/messages", json={"txt": "x"}, headers=h), 422,
         "validation_error"),
        (client.post(f"/v1/conversations/{conv['conversation_id']}/messages", json={"text": "x" * 501}, headers=h),
         422, "message_too_long"),
        (client.post(f"/v1/conversations/{conv['conversation_id']}/messages", content=b"{" + b" " * 5000 + b"}",
                     headers={**h, "Content-Type": "application/json"}), 413, "payload_too_large"),
        (client.post(f"/v1/conversations/{conv['conversation_id']}/rating", json={"score": 9}, headers=h), 422,
         "validation_error"),
        (client.post(f"/v1/conversations/{conv['conversation_id']}/rating", json={"score": 4}, headers=h), 409,
         "illegal_transition"),
        (client.get("/v1/agent/queue"), 401, "unauthorized"),
        (client.get("/v1/admin/policy", headers=bearer(live.agent_key)), 403, "forbidden"),
        (client.get(f"/v1/conversations/{conv['conversation_id']}/events", headers={**h, "Last-Event-ID": "abc"}),
         422, "invalid_input"),
    ]
    for r, status, code in cases:
        assert r.status_code == status, (r.request.url, r.text)
        assert r.json()["error"]["code"] == code and r.json()["error"]["message"], r.text


def test_streamed_body_over_the_limit_is_413(live, client):
    conv = client.post("/v1/conversations").json()

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    r = client.post(f"/v1/conversations/{conv['conversation_id']}/messages", content=chunks(),
                    headers={**bearer(conv["token"]), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_agent_claim_race_one_wins_the_other_gets_409(live, client):
    cid, _ = queued_conversation(live, client)
    assert any(item["conversation_id"] == cid for item in
               client.get("/v1/agent/queue", headers=bearer(live.agent_key)).json())
    barrier = threading.Barrier(2)
    results = []

    def claim(key):
        with httpx.Client(base_url=live.url, timeout=10) as c:
            barrier.wait()
            results.append(c.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(key)))

    threads = [threading.Thread(target=claim, args=(k,)) for k in (live.agent_key, live.other_key)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["error"]["code"] in ("conflict", "illegal_transition")
    winner = next(r for r in results if r.status_code == 200).json()
    assert winner["state"] == "human" and winner["summary"] == {"paragraph": "wants a person"}
    assert all(item["conversation_id"] != cid for item in
               client.get("/v1/agent/queue", headers=bearer(live.agent_key)).json())


def test_sse_replays_from_last_event_id_and_delivers_live_agent_messages(live, client):
    cid, token = queued_conversation(live, client)
    h = bearer(token)
    first = read_sse(client, f"/v1/conversations/{cid}/events", h, until=lambda ev: len(ev) >= 2)
    assert [e["id"] for e in first] == [1, 2] and first[0]["data"]["data"]["speaker"] == "bot"
    assert first[1]["event"] == "state"
    assert client.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(live.agent_key)).status_code == 200

    def reply_later():
        time.sleep(0.3)
        r = client.post(f"/v1/agent/conversations/{cid}/messages", json={"text": "Hi Maya, Sam here."},
                        headers=bearer(live.agent_key))
        assert r.status_code == 200

    # reconnect with Last-Event-ID 2: the claim's events (missed while away) first, then the live reply
    t = threading.Thread(target=reply_later)
    events = read_sse(client, f"/v1/conversations/{cid}/events", {**h, "Last-Event-ID": "2"}, on_open=t.start,
                      until=lambda ev: any(e["data"]["data"].get("speaker") == "agent" for e in ev))
    t.join()
    assert events[0]["id"] == 3 and [e["id"] for e in events] == list(range(3, 3 + len(events)))
    kinds = [(e["event"], e["data"]["data"].get("speaker") or e["data"]["data"].get("detail")) for e in events]
    assert ("message", "system") in kinds and ("state", "agent_joined") in kinds and kinds[-1] == ("message", "agent")
    again = read_sse(client, f"/v1/conversations/{cid}/events?after={events[-1]['id'] - 1}", h,
                     until=lambda ev: len(ev) >= 1)
    assert again[0]["id"] == events[-1]["id"]  # ?after= works the same


def test_agent_stream_sees_queue_changes(live, client):
    start = live.container.store.last_global_seq()
    cid, _ = queued_conversation(live, client)
    events = read_sse(client, f"/v1/agent/events?after={start}", bearer(live.agent_key),
                      until=lambda ev: any(e["event"] == "state" for e in ev))
    state = next(e for e in events if e["event"] == "state")
    assert state["data"]["conversation_id"] == cid and state["id"] > start


def test_rate_limits_answer_429_with_retry_after(live, client):
    from api.http.deps import RateLimiter

    conv = client.post("/v1/conversations").json()
    saved = live.app.state.token_limiter
    live.app.state.token_limiter = RateLimiter(3)
    try:
        codes = [client.get(f"/v1/conversations/{conv['conversation_id']}", headers=bearer(conv["token"]))
                 for _ in range(4)]
    finally:
        live.app.state.token_limiter = saved
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert int(codes[-1].headers["Retry-After"]) >= 1 and codes[-1].json()["error"]["code"] == "rate_limited"


def test_per_ip_limit(database_url, tmp_path):  # noqa: F811
    from api.http.app import create_app

    container = make_container(database_url, tmp_path, rate_limit_per_ip=2)
    with running(create_app(container, warm=False)) as url, httpx.Client(base_url=url) as c:
        codes = [c.post("/v1/conversations").status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert c.get("/healthz").status_code == 200  # health checks are not limited
    container.store.close()


def test_cors_from_settings_health_and_openapi(live, client):
    r = client.options("/v1/conversations", headers={"Origin": "https://shop.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
    r = client.options("/v1/conversations", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True
    spec = client.get("/openapi.json").json()
    for path in ("/v1/conversations", "/v1/conversations/{conversation_id}/messages", "/v1/agent/queue",
                 "/v1/agent/conversations/{conversation_id}/claim", "/v1/agent/stats", "/v1/admin/documents"):
        assert path in spec["paths"], path
    turn = spec["components"]["schemas"]["TurnOut"]
    assert set(turn["properties"]) == {"message_id", "state", "reply", "decision", "ticket_id"}


def test_macros_tickets_stats_and_admin_policy(live, client):
    ak, admin = bearer(live.agent_key), bearer(live.other_key)
    r = client.post("/v1/agent/macros", json={"name": "hello", "body": "Hi {customer_name}, about {order_number}:"},
                    headers=ak)
    assert r.status_code == 201
    assert client.post("/v1/agent/macros", json={"name": "bad", "body": "{password}"}, headers=ak).status_code == 422
    assert client.post("/v1/agent/macros", json={"name": "hello", "body": "x"}, headers=ak).status_code == 409
    cid, _ = queued_conversation(live, client)
    rendered = client.post(f"/v1/agent/macros/{r.json()['macro_id']}/render", json={"conversation_id": cid}, headers=ak)
    assert rendered.status_code == 200 and rendered.json()["text"] == "Hi Maya, about :"
    assert [m["name"] for m in client.get("/v1/agent/macros", headers=ak).json()].count("hello") == 1
    stats = client.get("/v1/agent/stats", params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
                       headers=ak)
    assert stats.status_code == 200 and stats.json()["conversations"] >= 1 and "csat" in stats.json()
    assert client.get("/v1/agent/stats", params={"from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
                      headers=ak).status_code == 422
    assert client.get("/v1/agent/tickets", headers=ak).status_code == 200
    assert client.post("/v1/agent/tickets/T-nope/close", headers=ak).status_code == 404
    policy = client.get("/v1/admin/policy", headers=admin)
    assert policy.status_code == 200 and "[hours]" in policy.json()["text"]
