"""The stable CLI contracts of ingest / sources / search, through the real Typer app."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DOCS


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, d)
    return d


def test_ingest_sources_and_search_batch_contract(cli, docs, tmp_path):
    code, _, err = cli("ingest", "docs")
    assert code == 0, err
    assert "added 18" in err

    code, out, _ = cli("sources", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert {s["source"] for s in listed} >= {"docs/returns-policy.md", "docs/warranty.pdf", "docs/faq.json"}

    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "query": "can i send back socks"}\n{"id": 7, "query": "intl shipping cost?"}\n')
    code, out, err = cli("search", "--batch", str(batch), "-k", "3")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    for line in lines:
        assert len(line["results"]) == 3
        for r in line["results"]:
            assert set(r) == {"source", "chunk_id", "title", "score", "text"}
            assert r["source"].startswith("docs/") and 0 <= r["score"] <= 1
        scores = [r["score"] for r in line["results"]]
        assert scores == sorted(scores, reverse=True)

    code, out, _ = cli("search", "gift card expiry", "--json", "-k", "2")
    assert code == 0 and len(json.loads(out)["results"]) == 2


def test_ingest_reports_bad_files_and_exits_nonzero(cli, docs):
    (docs / "broken.json").write_text("{not json")
    code, _, err = cli("ingest", "docs")
    assert code == 1
    assert "docs/broken.json: is not valid JSON" in err and "added 18" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search",), "give either a QUERY or --batch FILE"),
        (("search", "x", "--batch", "q.jsonl"), "give either a QUERY or --batch FILE"),
        (("search", "--batch", "missing.jsonl"), "does not exist"),
        (("ingest",), "give at least one file or folder"),
        (("search", "refund"), "knowledge base"),
    ],
)
def test_bad_input_gets_a_clear_message(cli, args, message):
    code, _, err = cli(*args)
    assert code != 0 and message in err


def test_bad_batch_line_names_the_line(cli, docs, tmp_path):
    cli("ingest", "docs")
    (tmp_path / "q.jsonl").write_text('{"id": 1, "query": "refund"}\n{"id": 2}\n')
    code, out, err = cli("search", "--batch", "q.jsonl")
    assert code == 1 and "line 2: missing field(s) query" in err
    assert json.loads(out.splitlines()[0])["id"] == 1  # earlier lines were still answered


@pytest.mark.parametrize("command, field", [("search", "query"), ("ask", "question"), ("classify", "message")])
@pytest.mark.parametrize("value", ['"   "', "5"])
def test_batch_text_fields_must_be_non_empty_strings(cli, docs, tmp_path, command, field, value):
    cli("ingest", "docs")
    (tmp_path / "b.jsonl").write_text(f'{{"id": 1, "{field}": {value}}}\n')
    code, _, err = cli(command, "--batch", "b.jsonl")
    assert code == 1 and f"line 1: '{field}' must be a non-empty string" in err


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "triage"
    assert exe.exists()
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ingest" in res.stdout and "search" in res.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chroma_server_mode(cli, docs, tmp_path, monkeypatch):
    chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        monkeypatch.setenv("TRIAGE_CHROMA_URL", f"http://127.0.0.1:{port}")
        code, _, err = cli("ingest", "docs")
        assert code == 0, err
        assert not (Path(os.environ["TRIAGE_DATA_DIR"]) / "chroma").exists()  # vectors live on the server
        code, out, _ = cli("search", "how long is the return window", "--json", "-k", "1")
        assert code == 0 and json.loads(out)["results"][0]["source"].startswith("docs/")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unreachable_chroma_server_is_a_clear_error(cli, docs, monkeypatch):
    monkeypatch.setenv("TRIAGE_CHROMA_URL", f"http://127.0.0.1:{_free_port()}")
    code, _, err = cli("ingest", "docs")
    assert code == 1 and "cannot open the Chroma vector store" in err


def test_openai_compatible_embeddings_backend(cli, docs, llm_server, monkeypatch):
    """TRIAGE_EMBEDDER=openai talks to the configured endpoint; vectors live in their own collection."""
    monkeypatch.setenv("TRIAGE_EMBEDDER", "openai")
    monkeypatch.setenv("TRIAGE_EMBEDDINGS_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("TRIAGE_EMBEDDINGS_MODEL", "fake-embed")
    code, _, err = cli("ingest", "docs")
    assert code == 0, err
    assert any(r["path"].endswith("/embeddings") and r["body"]["model"] == "fake-embed" for r in llm_server.requests)
    code, out, err = cli("search", "return window", "--json", "-k", "2")
    assert code == 0 and len(json.loads(out)["results"]) == 2
    # switching back to the local model is refused until re-ingested (never mixes vectors)
    monkeypatch.setenv("TRIAGE_EMBEDDER", "local")
    code, _, err = cli("search", "return window")
    assert code == 1 and "re-run `triage ingest`" in err


@pytest.mark.parametrize("variable, value, message", [
    ("TRIAGE_SOURCE_PRIOR_WEIGHT", "abc", "TRIAGE_SOURCE_PRIOR_WEIGHT='abc': Input should be a valid number"),
    ("TRIAGE_ABSTAIN_BELOW", "7", "TRIAGE_ABSTAIN_BELOW='7': Input should be less than or equal to 1"),
    ("TRIAGE_EMBEDDER", "foo", "TRIAGE_EMBEDDER='foo'"),
])
def test_a_bad_setting_is_named_not_a_traceback(cli, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    code, _, err = cli("sources")
    assert code == 1 and "bad setting" in err and message in err
    assert "Traceback" not in err
