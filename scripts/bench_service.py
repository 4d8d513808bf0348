"""Load benchmark of the service on loopback: N concurrent conversations for D seconds (asyncio + httpx).

Starts `triage serve`'s app in a subprocess on a free port (a fresh data dir: the sample store is
ingested on first start) unless --url points at a running one, then drives N conversations, each
sending policy questions one after another (a customer's think time between them, --think).
Prints turn latency p50/p95, throughput and errors, beside the floor measured in the same run:
one query embedding + one raw Chroma query on the same index (idle, and while the load runs).

    python scripts/bench_service.py                       # 50 conversations, 60 s, 3 s think time
    python scripts/bench_service.py --think 0             # closed loop: as fast as the server answers
    python scripts/bench_service.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

QUESTIONS = [
    "how long do I have to return a jacket?", "do you ship to Canada?", "how much is express shipping?",
    "can I exchange boots for a different size?", "when will I get my refund?", "do you take PayPal?",
    "what size should I order in the summit parka?", "is there free shipping?", "can I return sale items?",
    "how do I start a return?", "do you charge customs duties?", "can I pay with Klarna?",
    "how long does standard delivery take?", "what if my item arrives damaged?", "do you price match?",
]
PREFIXES = ["", "hi, ", "hello! ", "quick question: ", "hey there, ", "good morning, ", "sorry to bother you, "]
SUFFIXES = ["", " thanks", " thank you!", " please", " thx", " cheers"]
NAMES = ["Maya", "Tom", "Ana", "Lee", "Sam", "Priya", "Jon", "Eva", "Omar", "Kim", "Luis", "Nora", "Ivan", "Zoe",
         "Raj", "Mia", "Ben", "Ada", "Leo", "Ines", "Kai", "Uma", "Ravi", "Lena", "Theo", "Aya", "Max", "Yara"]


def question(rng: random.Random) -> str:
    """A customer's question, worded a little differently each time (no two turns embed the same text)."""
    return f"{rng.choice(PREFIXES)}{rng.choice(QUESTIONS)}{rng.choice(SUFFIXES)} - {rng.choice(NAMES)} {rng.randint(1, 999)}"


LAUNCH = ("import uvicorn, sys; from api.http.app import create_app; "
          "uvicorn.run(create_app(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def start_server(data_dir: Path, database_url: str | None, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(data_dir), "TRIAGE_RATE_LIMIT_PER_TOKEN": "100000",
           "TRIAGE_RATE_LIMIT_PER_IP": "1000000", "TRIAGE_TURN_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    if database_url:
        env["TRIAGE_DATABASE_URL"] = database_url
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not become ready")


class Floor:
    """One query embedding + one raw Chroma query, on the index the server uses."""

    def __init__(self, data_dir: Path):
        from knowledge.embeddings import LocalEmbedder
        from knowledge.index import KnowledgeIndex

        self.embedder = LocalEmbedder()
        self.index = KnowledgeIndex(data_dir, self.embedder)
        self.rng = random.Random(99)
        self.one(QUESTIONS[0])

    def one(self, q: str | None = None) -> float:
        q = q or question(self.rng)
        t = time.perf_counter()
        self.index.vectors.query(self.embedder.embed_query(q), 10)
        return time.perf_counter() - t

    def sample(self, n: int) -> list[float]:
        return [self.one() for _ in range(n)]


async def conversation(client: httpx.AsyncClient, stop_at: float, think: float, rng: random.Random,
                       lat: list[float], errors: list[str], acked: list[str]) -> None:
    await asyncio.sleep(rng.uniform(0, max(think, 0.5)))  # stagger the starts
    token = cid = None
    while time.monotonic() < stop_at:
        try:
            if cid is None:
                r = await client.post("/v1/conversations")
                if r.status_code != 201:
                    errors.append(f"create {r.status_code}")
                    continue
                cid, token = r.json()["conversation_id"], r.json()["token"]
            t = time.perf_counter()
            r = await client.post(f"/v1/conversations/{cid}/messages", json={"text": question(rng)},
                                  headers={"Authorization": f"Bearer {token}"})
            elapsed = time.perf_counter() - t
            if r.status_code != 200:
                errors.append(f"turn {r.status_code}: {r.text[:120]}")
            else:
                lat.append(elapsed)
                body = r.json()
                acked.append(body["message_id"])
                if body["state"] != "bot":  # handed off: a new customer arrives
                    cid = None
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def drive(url: str, n: int, seconds: float, think: float, seed: int):
    lat: list[float] = []
    errors: list[str] = []
    acked: list[str] = []
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        stop_at = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(*(conversation(client, stop_at, think, random.Random(rng.random()), lat, errors, acked)
                               for _ in range(n)))
        wall = time.monotonic() - started
    return lat, errors, acked, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=3.0, help="mean seconds a customer takes before the next message")
    ap.add_argument("--url", help="a running server (its data dir via --data-dir for the floor)")
    ap.add_argument("--data-dir", type=Path, help="data dir (default: a fresh temporary one)")
    ap.add_argument("--database-url")
    ap.add_argument("--threads", type=int, default=2, help="TRIAGE_TURN_THREADS for the started server")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-service-"))
    proc = None
    url = args.url
    if not url:
        print(f"starting the service (data dir {data_dir}) ...", flush=True)
        proc, url = start_server(data_dir, args.database_url, args.threads)
    try:
        floor = Floor(data_dir)
        idle_floor = floor.sample(60)
        with httpx.Client(base_url=url, timeout=60) as c:  # one turn at a time, idle
            cid = c.post("/v1/conversations").json()
            single = []
            rng = random.Random(5)
            for q in [question(rng) for _ in range(30)]:
                t = time.perf_counter()
                r = c.post(f"/v1/conversations/{cid['conversation_id']}/messages", json={"text": q},
                           headers={"Authorization": f"Bearer {cid['token']}"})
                single.append(time.perf_counter() - t)
                if r.json()["state"] != "bot":
                    cid = c.post("/v1/conversations").json()
        loaded_floor: list[float] = []
        stop = threading.Event()

        def floor_under_load():
            while not stop.is_set():
                loaded_floor.append(floor.one())
                time.sleep(0.2)

        th = threading.Thread(target=floor_under_load, daemon=True)
        th.start()
        lat, errors, acked, wall = asyncio.run(drive(url, args.conversations, args.seconds, args.think, args.seed))
        stop.set()
        th.join()
    finally:
        if proc:
            proc.terminate()
            proc.wait(20)

    f_idle, f_load = statistics.median(idle_floor), statistics.median(loaded_floor) if loaded_floor else float("nan")
    p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
    print(f"\n{args.conversations} concurrent conversations, {wall:.0f} s, think time {args.think:g} s, "
          f"{os.cpu_count()} cores, turn threads {args.threads}, db {args.database_url or 'sqlite'}")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'floor (embed + chroma) idle':28}{f_idle * 1000:>10.1f}{pct(idle_floor, 0.95) * 1000:>10.1f}")
    print(f"{'floor under the load':28}{f_load * 1000:>10.1f}{pct(loaded_floor, 0.95) * 1000:>10.1f}")
    print(f"{'turn, one at a time':28}{statistics.median(single) * 1000:>10.1f}{pct(single, 0.95) * 1000:>10.1f}")
    print(f"{'turn under the load':28}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}")
    print(f"turns: {len(lat)}  throughput: {len(lat) / wall:.1f} turns/s  errors: {len(errors)}")
    print(f"p50 turn / floor: {p50 / f_load:.2f}x under load (same-moment floor), {p50 / f_idle:.2f}x vs idle floor; "
          f"one-at-a-time turn / idle floor: {statistics.median(single) / f_idle:.2f}x")
    for e in sorted(set(errors))[:10]:
        print("  error:", e)


if __name__ == "__main__":
    main()
