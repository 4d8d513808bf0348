"""Waking SSE readers when events are written.

Events live in the database log (written in the turn's transaction); a bus here carries only the
news "something was written", so a reader that was away loses nothing: it reads the log after its
last sequence number. In-process by default; with several workers or machines, Redis pub/sub
(``redis://``) or PostgreSQL LISTEN/NOTIFY (``postgresql://``) wakes the readers of every worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterable

from triage.conversation import Event

log = logging.getLogger("triage.events")
CHANNEL = "triage_events"


class Wakeup:
    """A generation counter that async readers wait on; :meth:`wake` may be called from any thread."""

    def __init__(self):
        self.generation = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def wake(self) -> None:
        with self._lock:
            self.generation += 1
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # the loop has closed
                pass

    async def wait(self, generation: int, timeout: float) -> bool:
        """Wait until the generation moves past ``generation`` (True) or ``timeout`` seconds pass (False)."""
        ev = asyncio.Event()
        item = (asyncio.get_running_loop(), ev)
        with self._lock:
            if self.generation != generation:
                return True
            self._waiters.add(item)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except (asyncio.TimeoutError, TimeoutError):
            return False
        finally:
            with self._lock:
                self._waiters.discard(item)


class LocalBus:
    """One process: the commit hook wakes this process's readers."""

    def __init__(self):
        self.wakeup = Wakeup()

    def publish(self, events: Iterable[Event]) -> None:
        if events:
            self.wakeup.wake()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class _ListeningBus(LocalBus):
    """A bus with a background thread that listens for other workers' news and wakes local readers."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="triage-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # broker restarted or unreachable: retry; readers still poll the log
                log.warning("event bus listener: %s; reconnecting", exc)
                self.wakeup.wake()  # something may have been missed while down
                time.sleep(1)

    def _listen(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def payload(events: Iterable[Event]) -> str:
        return json.dumps([[e.conversation_id, e.seq] for e in events])


class RedisBus(_ListeningBus):
    def __init__(self, url: str):
        super().__init__(url)
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5)

    def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        if not events:
            return
        self.wakeup.wake()
        try:
            self._client.publish(CHANNEL, self.payload(events))
        except Exception as exc:  # the events are in the log; other workers' readers see them at their next poll
            log.warning("redis publish failed: %s", exc)

    def _listen(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=None)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)
        try:
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=1.0)
                if msg is not None:
                    self.wakeup.wake()
        finally:
            pubsub.close()
            client.close()


class PostgresBus(_ListeningBus):
    def __init__(self, url: str):
        super().__init__(_libpq_url(url))
        self._lock = threading.Lock()
        self._conn = None

    def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        if not events:
            return
        self.wakeup.wake()
        import psycopg

        try:
            with self._lock:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.url, autocommit=True)
                self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.payload(events)))
        except Exception as exc:
            log.warning("pg_notify failed: %s", exc)
            self._conn = None

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=1.0, stop_after=100):
                    self.wakeup.wake()


def _libpq_url(url: str) -> str:
    """psycopg wants postgresql://...; accept SQLAlchemy's postgresql+psycopg:// too."""
    return "postgresql://" + url.split("://", 1)[1] if url.startswith("postgresql+") else url


def make_bus(url: str | None) -> LocalBus:
    if not url:
        return LocalBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return PostgresBus(url.replace("postgres://", "postgresql://", 1))
    from triage.errors import ConfigurationError

    raise ConfigurationError(f"TRIAGE_EVENTS_URL={url!r}: use redis://host:port/db or postgresql://..., or unset it")
