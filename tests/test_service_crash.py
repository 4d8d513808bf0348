"""kill -9 of the server during a 50-conversation load: every message acknowledged with 200 is in the
database after the restart (with the bot's reply that was acknowledged alongside it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.test_service_http import free_port

pytestmark = pytest.mark.slow

LAUNCH = ("import uvicorn, sys; from api.http.app import create_app; "
          "uvicorn.run(create_app(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')")
QUESTIONS = ["how long do I have to return a jacket?", "do you ship to Canada?", "how do I start a return?",
             "when will I get my refund?", "can I exchange boots for a different size?"]


def start(data_dir, port):
    env = {**os.environ, "TRIAGE_DATA_DIR": str(data_dir), "TRIAGE_RATE_LIMIT_PER_TOKEN": "100000",
           "TRIAGE_RATE_LIMIT_PER_IP": "1000000"}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port)], env=env)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "server exited during start-up"
        time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not become ready")


async def load(url: str, n: int, kill_after: float, proc) -> list[tuple[str, str, str]]:
    """n conversations sending questions until the server dies; returns (conversation, message id, reply)."""
    acked: list[tuple[str, str, str]] = []

    async def one(client, i):
        try:
            r = await client.post("/v1/conversations")
            cid, token = r.json()["conversation_id"], r.json()["token"]
            k = 0
            while True:
                r = await client.post(f"/v1/conversations/{cid}/messages", json={"text": QUESTIONS[(i + k) % 5]},
                                      headers={"Authorization": f"Bearer {token}"})
                k += 1
                if r.status_code == 200:
                    acked.append((cid, r.json()["message_id"], (r.json()["reply"] or {}).get("text")))
        except (httpx.HTTPError, KeyError, ValueError):
            return  # the server is gone

    async def killer():
        await asyncio.sleep(kill_after)
        os.kill(proc.pid, signal.SIGKILL)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=60)) as client:
        await asyncio.gather(killer(), *(one(client, i) for i in range(n)))
    return acked


def test_kill_9_during_load_loses_no_acknowledged_message(sample_index, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_index.data_dir, data)  # an indexed store: no ingest at start
    port = free_port()
    proc = start(data, port)
    acked = asyncio.run(load(f"http://127.0.0.1:{port}", 50, 8.0, proc))
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 20, f"only {len(acked)} turns were acknowledged before the kill"

    proc = start(data, port)  # restarts on the same files (WAL recovery, migrations again: nothing to do)
    try:
        from api.db import default_url
        from api.db.store import SqlStore

        store = SqlStore(default_url(data))
        stored = store.message_ids()
        missing = [m for _, m, _ in acked if m not in stored]
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages lost"
        print(f"{len(acked)} turns acknowledged before kill -9; all {len(acked)} in the database after restart")
        for cid, mid, reply in acked:
            bot = store.message_after(cid, mid)
            assert bot is not None and bot.text == reply
        store.close()
    finally:
        proc.terminate()
        proc.wait(10)
