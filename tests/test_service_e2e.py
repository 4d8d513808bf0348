"""The issue's end-to-end bar over HTTP with the real models, on SQLite and on PostgreSQL:

customer asks -> bot answers with a citation -> the button -> the agent sees the summary in the
queue, claims, replies -> the customer receives it over SSE -> the bot stays silent -> resolve ->
rating; out of hours the same request yields a ticket and the next opening time. Plus idempotent
retries and the SMTP transcript (a local aiosmtpd server).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import httpx
import pytest

from tests.test_service_http import bearer, make_container, read_sse, running
from tests.test_store_sql import database_url  # noqa: F401

pytestmark = pytest.mark.slow

IN_HOURS = "2026-11-24T10:00:00-05:00"  # a Tuesday morning, ET
THANKSGIVING_NIGHT = "2026-11-26T21:00:00-05:00"
SHARED = ("embedder", "index", "router", "searcher", "scope_model", "confidence_model", "extractive", "classifier",
          "local_embedder")


@pytest.fixture(scope="module")
def models(embedder, sample_index, tmp_path_factory):
    """The models loaded once for the module (both databases' servers use them)."""
    from api.settings import Settings
    from api.wiring import Container

    c = Container(Settings(data_dir=tmp_path_factory.mktemp("models")))
    c.__dict__.update(embedder=embedder, index=sample_index)
    c.answerer.answer("how long do I have to return a jacket")
    c.classifier.classify("hello")
    return {k: c.__dict__[k] for k in SHARED if k in c.__dict__}


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    received = []

    class Collect(MessageHandler):
        def handle_message(self, message):
            received.append(message)

    from tests.test_service_http import free_port

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, received
    controller.stop()


@pytest.fixture(scope="module")
def live(database_url, models, tmp_path_factory, smtp_server):  # noqa: F811
    from api.http.app import create_app
    from api.service import add_agent
    from triage.clock import FixedClock

    controller, received = smtp_server
    container = make_container(database_url, tmp_path_factory.mktemp("svc"),
                               smtp_url=f"smtp://127.0.0.1:{controller.port}")
    container.__dict__.update(models)
    container.store.truncate()
    clock = FixedClock(datetime.fromisoformat(IN_HOURS))
    app = create_app(container, clock=clock)
    keys = add_agent(container.store, "Sam"), add_agent(container.store, "Ann")
    with running(app) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(600):
                if client.get("/readyz").status_code == 200:
                    break
                time.sleep(0.1)
            yield {"client": client, "clock": clock, "container": container, "keys": keys, "mail": received}
    container.store.close()


def test_customer_to_agent_and_back_over_http(live):
    client, (sam, ann) = live["client"], live["keys"]
    live["clock"].at = datetime.fromisoformat(IN_HOURS)
    conv = client.post("/v1/conversations").json()
    cid, h = conv["conversation_id"], bearer(conv["token"])

    # 1. the bot answers with a citation
    r = client.post(f"/v1/conversations/{cid}/messages", json={"text": "how long do I have to return a jacket?"},
                    headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "bot" and body["reply"]["abstained"] is False and "30 days" in body["reply"]["text"]
    cites = body["reply"]["citations"]
    assert cites and all(set(c) == {"source", "title", "chunk_id"} and c["source"] and c["chunk_id"] for c in cites)
    assert body["decision"]["handoff"] is False and body["ticket_id"] is None

    # 2. the button: queued with a summary
    r = client.post(f"/v1/conversations/{cid}/handoff", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "queued" and r.json()["decision"]["handoff"] is True
    assert "connecting you" in r.json()["reply"]["text"]

    # 3. the agent sees it in the queue with its summary, claims it (a second claim: 409), replies
    queue = client.get("/v1/agent/queue", headers=bearer(sam)).json()
    item = next(i for i in queue if i["conversation_id"] == cid)
    assert item["summary"]["summary"] and item["reasons"][0]["code"] and item["waiting_seconds"] >= 0
    last = max(e["id"] for e in read_sse(client, f"/v1/conversations/{cid}/events", h,
                                         until=lambda ev: any(e["event"] == "state" for e in ev)))
    assert client.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(sam)).status_code == 200
    assert client.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(ann)).status_code == 409

    def agent_replies():
        time.sleep(0.3)
        assert client.post(f"/v1/agent/conversations/{cid}/messages", json={"text": "Hi, Sam here. Let me check."},
                           headers=bearer(sam)).status_code == 200

    # 4. the customer receives it over SSE (resuming after the last event it had)
    t = threading.Thread(target=agent_replies)
    events = read_sse(client, f"/v1/conversations/{cid}/events", {**h, "Last-Event-ID": str(last)}, on_open=t.start,
                      until=lambda ev: any(e["data"]["data"].get("speaker") == "agent" for e in ev))
    t.join()
    agent_msg = next(e for e in events if e["data"]["data"].get("speaker") == "agent")
    assert agent_msg["data"]["data"]["text"] == "Hi, Sam here. Let me check." and agent_msg["data"]["data"]["agent"] == "Sam"
    assert events[0]["id"] == last + 1

    # 5. the bot stays silent while Sam has the chat
    r = client.post(f"/v1/conversations/{cid}/messages", json={"text": "how long do I have to return a jacket?"},
                    headers=h)
    assert r.status_code == 200 and r.json()["reply"] is None and r.json()["state"] == "human"
    transcript = client.get(f"/v1/conversations/{cid}", headers=h).json()["messages"]
    assert [m["speaker"] for m in transcript][-2:] == ["agent", "customer"]  # no bot message after the agent's

    # 6. resolve, rate, stats
    assert client.post(f"/v1/agent/conversations/{cid}/resolve", headers=bearer(sam)).json()["state"] == "resolved"
    r = client.post(f"/v1/conversations/{cid}/rating", json={"score": 5, "comment": "quick"}, headers=h)
    assert r.status_code == 200
    stats = client.get("/v1/agent/stats", params={"from": "2026-11-24T00:00:00Z", "to": "2026-11-25T00:00:00Z"},
                       headers=bearer(sam)).json()
    assert stats["csat"]["mean"] == 5.0 and stats["handoffs"] >= 1 and stats["handoff_rate_by_reason"]

    # 7. the transcript by email (local SMTP server)
    text = client.get(f"/v1/conversations/{cid}/transcript.txt", headers=h).text
    assert "Sam: Hi, Sam here." in text and "30 days" in text
    assert client.post(f"/v1/conversations/{cid}/transcript/email", json={"email": "maya@example.com"},
                       headers=h).status_code == 202
    mail = live["mail"][-1]
    assert mail["To"] == "maya@example.com" and "Hi, Sam here." in mail.get_payload()


def test_out_of_hours_the_same_request_yields_a_ticket_and_the_next_opening(live):
    client, (sam, _) = live["client"], live["keys"]
    live["clock"].at = datetime.fromisoformat(THANKSGIVING_NIGHT)
    try:
        conv = client.post("/v1/conversations").json()
        cid, h = conv["conversation_id"], bearer(conv["token"])
        r = client.post(f"/v1/conversations/{cid}/handoff", headers=h)
        body = r.json()
        assert r.status_code == 200 and body["state"] == "ticket" and body["ticket_id"]
        assert "10:00 AM ET on Saturday" in body["reply"]["text"]
        state = next(e for e in read_sse(client, f"/v1/conversations/{cid}/events", h,
                                         until=lambda ev: any(e["event"] == "state" for e in ev))
                     if e["event"] == "state")["data"]["data"]
        assert state["detail"] == "ticket_created" and state["next_opening"].startswith("2026-11-28T10:00")
        tickets = client.get("/v1/agent/tickets", params={"status": "open"}, headers=bearer(sam)).json()
        assert any(t["ticket_id"] == body["ticket_id"] for t in tickets)
        r = client.post(f"/v1/agent/tickets/{body['ticket_id']}/reply", json={"text": "We're on it."},
                        headers=bearer(sam))
        assert r.status_code == 200 and r.json()["notes"][-1]["text"] == "We're on it."
        assert client.post(f"/v1/agent/tickets/{body['ticket_id']}/close", headers=bearer(sam)).json()["status"] == "closed"
    finally:
        live["clock"].at = datetime.fromisoformat(IN_HOURS)


def test_a_retried_post_with_the_same_idempotency_key_stores_nothing_twice(live):
    client = live["client"]
    conv = client.post("/v1/conversations").json()
    cid, h = conv["conversation_id"], {**bearer(conv["token"]), "Idempotency-Key": "retry-1"}
    first = client.post(f"/v1/conversations/{cid}/messages", json={"text": "do you ship to Canada?"}, headers=h)
    again = client.post(f"/v1/conversations/{cid}/messages", json={"text": "do you ship to Canada?"}, headers=h)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    msgs = client.get(f"/v1/conversations/{cid}", headers=bearer(conv["token"])).json()["messages"]
    assert [m["speaker"] for m in msgs] == ["bot", "customer", "bot"]


def test_release_hands_the_chat_back_to_the_bot(live):
    client, (sam, _) = live["client"], live["keys"]
    conv = client.post("/v1/conversations").json()
    cid, h = conv["conversation_id"], bearer(conv["token"])
    client.post(f"/v1/conversations/{cid}/handoff", headers=h)
    client.post(f"/v1/agent/conversations/{cid}/claim", headers=bearer(sam))
    assert client.post(f"/v1/agent/conversations/{cid}/release", headers=bearer(sam)).json()["state"] == "bot"
    r = client.post(f"/v1/conversations/{cid}/messages", json={"text": "how long do I have to return a jacket?"},
                    headers=h)
    assert r.json()["reply"] and r.json()["state"] == "bot"


def test_admin_uploads_a_document_lists_and_deletes_sources(models, tmp_path):
    """Upload -> background ingestion with progress -> listed -> answerable source -> deleted (own index)."""
    from api.http.app import create_app
    from api.service import add_agent

    container = make_container(None, tmp_path / "data")
    container.__dict__["embedder"] = models["embedder"]
    admin, agent = add_agent(container.store, "Root", admin=True), add_agent(container.store, "Sam")
    with running(create_app(container, warm=False)) as url, httpx.Client(base_url=url, timeout=30) as c:
        doc = b"# Gift wrapping\n\nWe offer gift wrapping for $5 per order. Choose it at checkout.\n"
        assert c.post("/v1/admin/documents", files={"file": ("gifts.md", doc)}, headers=bearer(agent)).status_code == 403
        assert c.post("/v1/admin/documents", files={"file": ("x.exe", b"MZ")}, headers=bearer(admin)).status_code == 422
        r = c.post("/v1/admin/documents", files={"file": ("gifts.md", doc)}, headers=bearer(admin))
        assert r.status_code == 202
        job = r.json()
        for _ in range(300):
            job = c.get(f"/v1/admin/documents/jobs/{job['job_id']}", headers=bearer(admin)).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "done" and len(job["added"]) == 1 and job["total"] >= 1, job
        sources = c.get("/v1/admin/sources", headers=bearer(admin)).json()
        assert [s["title"] for s in sources] == ["Gift wrapping"] and sources[0]["chunks"] >= 1
        r = c.delete(f"/v1/admin/sources/{sources[0]['source']}", headers=bearer(admin))
        assert r.status_code == 200 and r.json()["deleted_chunks"] == sources[0]["chunks"]
        assert c.get("/v1/admin/sources", headers=bearer(admin)).json() == []
        assert c.delete(f"/v1/admin/sources/{sources[0]['source']}", headers=bearer(admin)).status_code == 404
    container.store.close()
