"""The service with its knowledge index on a Chroma server (`chroma run`, started here) on first start:
the sample store is ingested into the server and a question is answered with a citation over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_service_http import bearer, free_port, make_container, running

pytestmark = pytest.mark.slow


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


def test_first_start_ingests_the_sample_store_into_a_chroma_server_and_answers(chroma_server, embedder, tmp_path):
    from api.http.app import create_app

    container = make_container(None, tmp_path / "data", chroma_url=chroma_server)
    container.__dict__["embedder"] = embedder
    with running(create_app(container)) as url, httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(1200):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.1)
        assert c.get("/readyz").json()["models_loaded"] is True
        assert container.index.vectors.count() == container.index.catalog.count_chunks() > 0
        conv = c.post("/v1/conversations").json()
        r = c.post(f"/v1/conversations/{conv['conversation_id']}/messages",
                   json={"text": "how long do I have to return a jacket?"}, headers=bearer(conv["token"]))
        assert r.status_code == 200 and "30 days" in r.json()["reply"]["text"] and r.json()["reply"]["citations"]
    container.store.close()
