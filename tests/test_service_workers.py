"""Two server processes sharing one PostgreSQL database: an event written through one reaches a client
streaming from the other (woken by Redis pub/sub or by PostgreSQL LISTEN/NOTIFY), and a client that
disconnects and reconnects with Last-Event-ID to the other process receives everything it missed.

The keep-alive is 30 s, so a delivery within seconds proves the cross-process wake-up, not polling."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from tests.test_service_http import bearer, free_port, read_sse
from tests.test_store_sql import drop_pg_schema, pg_schema_url

pytestmark = pytest.mark.slow  # two server processes

LAUNCH = ("import uvicorn, sys; from api.http.app import create_app; "
          "uvicorn.run(create_app(warm=False), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')")


@pytest.fixture(params=["redis://127.0.0.1:6379/0", "postgresql://postgres@127.0.0.1:5432/test"],
                ids=["redis", "pg-notify"], scope="module")
def two_workers(request, tmp_path_factory):
    schema, url = pg_schema_url()
    from api.db.store import SqlStore

    store = SqlStore(url)  # migrate once before the processes start
    env = {**os.environ, "TRIAGE_DATABASE_URL": url, "TRIAGE_EVENTS_URL": request.param, "TRIAGE_SSE_KEEPALIVE": "30",
           "TRIAGE_DATA_DIR": str(tmp_path_factory.mktemp("workers")), "TRIAGE_RATE_LIMIT_PER_TOKEN": "1000"}
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([sys.executable, "-c", LAUNCH, str(p)], env=env, cwd=os.getcwd()) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for u in urls:
            for _ in range(300):
                try:
                    if httpx.get(f"{u}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                pytest.fail(f"worker {u} did not start")
        yield store, urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        store.close()
        drop_pg_schema(schema)


def test_events_cross_workers_and_reconnect_loses_nothing(two_workers):
    from api.service import add_agent
    from triage.conversation import Handoff
    from triage.state import State

    store, (a, b) = two_workers
    key = add_agent(store, f"Sam{time.monotonic_ns()}")
    ca, cb = httpx.Client(base_url=a, timeout=30), httpx.Client(base_url=b, timeout=30)
    conv = ca.post("/v1/conversations").json()
    cid, h = conv["conversation_id"], bearer(conv["token"])
    now = datetime.now(timezone.utc)
    c = store.get(cid)
    with store.transaction() as tx:  # queue it directly: no models in this test
        tx.change_state(cid, State.BOT, State.QUEUED, c.version)
        tx.queue_handoff(Handoff(cid, [{"code": "human_request", "detail": "asked"}], {}, "normal", now))
    assert ca.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(key)).status_code == 200

    # live: customer streams from worker B, the agent writes through worker A
    def reply(text, delay=0.5):
        time.sleep(delay)
        assert ca.post(f"/v1/agent/conversations/{cid}/messages", json={"text": text},
                       headers=bearer(key)).status_code == 200

    t = threading.Thread(target=reply, args=("first reply",))
    started = time.monotonic()
    live = read_sse(cb, f"/v1/conversations/{cid}/events", h, on_open=t.start, timeout=10,
                    until=lambda ev: any(e["data"]["data"].get("text") == "first reply" for e in ev))
    t.join()
    assert live[-1]["data"]["data"]["text"] == "first reply"
    assert time.monotonic() - started < 5  # woken across processes, not by the 30 s keep-alive
    last = live[-1]["id"]

    # away: two agent messages and a typing event while the customer is disconnected
    reply("while away 1", 0)
    reply("while away 2", 0)
    assert ca.post(f"/v1/agent/conversations/{cid}/typing", headers=bearer(key)).status_code == 204
    # reconnect to the *other* worker with Last-Event-ID: every missed event, in order, nothing twice
    back = read_sse(ca, f"/v1/conversations/{cid}/events", {**h, "Last-Event-ID": str(last)}, timeout=10,
                    until=lambda ev: any(e["event"] == "typing" for e in ev))
    assert [e["id"] for e in back] == list(range(last + 1, last + 4))
    assert [e["data"]["data"].get("text") for e in back[:2]] == ["while away 1", "while away 2"]
    assert back[2]["event"] == "typing"
    all_events = read_sse(cb, f"/v1/conversations/{cid}/events", h, timeout=5, until=lambda ev: len(ev) >= last + 3)
    assert [e["id"] for e in all_events] == list(range(1, last + 4))
    ca.close()
    cb.close()
