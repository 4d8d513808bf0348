"""Dependencies: the service, who is calling (customer token / agent key), rate limits, size limits."""

from __future__ import annotations

import math
import threading
import time
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.service import AgentIdentity, Service
from triage.errors import InvalidInputError, RateLimitedError

bearer = HTTPBearer(auto_error=False, description="Customer: the conversation token. Agent: the agent key.")
ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                     examples=["C-3f9a1c2b7d"])]


class RateLimiter:
    """Token buckets per key: ``per_minute`` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, what: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError(f"too many requests for this {what}; slow down",
                                       retry_after=max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle keys
                for k in [k for k, (t, at) in self._buckets.items() if now - at > 120][:50_000]:
                    del self._buckets[k]


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def customer_conversation(conversation_id: ConversationId, service: ServiceDep, creds: Credentials,
                          request: Request) -> str:
    """The conversation id, once the bearer token is shown to be this conversation's (404 otherwise)."""
    token = creds.credentials if creds else None
    service.authorize_customer(conversation_id, token)
    request.app.state.token_limiter.hit(conversation_id, "conversation")
    return conversation_id


def current_agent(service: ServiceDep, creds: Credentials, request: Request) -> AgentIdentity:
    agent = service.authenticate_agent(creds.credentials if creds else None)
    request.app.state.token_limiter.hit("agent:" + agent.name, "agent key")
    return agent


def admin_agent(agent: Annotated[AgentIdentity, Depends(current_agent)]) -> AgentIdentity:
    Service.require_admin(agent)
    return agent


CustomerConversation = Annotated[str, Depends(customer_conversation)]
Agent = Annotated[AgentIdentity, Depends(current_agent)]
Admin = Annotated[AgentIdentity, Depends(admin_agent)]


def check_text(request: Request, text: str) -> str:
    limit = request.app.state.settings.max_message_chars
    text = text.strip()
    if not text:
        raise InvalidInputError("the message is empty")
    if len(text) > limit:
        err = InvalidInputError(f"the message is {len(text)} characters; the limit is {limit}")
        err.code = "message_too_long"
        raise err
    return text


def last_event_id(request: Request, after: int | None) -> int:
    """Where a stream resumes: ``?after=N`` or the ``Last-Event-ID`` header (0 = from the start)."""
    raw = request.headers.get("last-event-id")
    if after is not None:
        return after
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError("Last-Event-ID must be the integer id of the last event received") from None
    if not 0 <= value <= 2**62:
        raise InvalidInputError("Last-Event-ID must be between 0 and 2**62")
    return value


from api.http.schemas import ERRORS  # noqa: E402

ERRORS_CUSTOMER = {k: v for k, v in ERRORS.items() if k != 401}
ERRORS_AGENT = ERRORS
