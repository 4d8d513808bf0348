"""Server-Sent Events over the database event log: replay after the client's last id, then live.

The reader registers with the wake-up counter *before* reading the log, so an event committed
between the read and the wait still wakes it; on every keep-alive timeout it reads the log again,
so even a lost wake-up (a broker restart) delays an event by at most one keep-alive.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse

from triage.conversation import Event


def format_event(event: Event, id_: int) -> str:
    body = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {id_}\nevent: {event.type}\ndata: {body}\n\n"


def stream(request: Request, read: Callable[[int], list[Event]], after: int, *, global_ids: bool = False,
           keepalive: float | None = None) -> StreamingResponse:
    wakeup = request.app.state.bus.wakeup
    keepalive = keepalive or request.app.state.settings.sse_keepalive

    async def events():
        last = after
        yield "retry: 2000\n\n"
        while True:
            generation = wakeup.generation
            batch = await anyio.to_thread.run_sync(read, last)
            for e in batch:
                last = e.global_seq if global_ids else e.seq
                yield format_event(e, last)
            if batch:
                continue
            if await request.is_disconnected():
                return
            if not await wakeup.wait(generation, keepalive):
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


SSE_RESPONSE = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}, "example":
                "id: 3\nevent: message\ndata: {\"conversation_id\": \"C-3f9a1c2b7d\", \"seq\": 3, \"type\": "
                "\"message\", \"data\": {\"speaker\": \"agent\", \"text\": \"Hi, Sam here.\"}}\n\n"}},
                      "description": "Server-Sent Events; `id:` is the sequence number to resume from."}}
