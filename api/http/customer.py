"""Customer routes: open a chat, send messages, press the button, read, stream, rate (thin over api.service)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse

from api.http.app import wait_ready
from api.http.deps import ERRORS_CUSTOMER, CustomerConversation, ServiceDep, check_text, last_event_id
from api.http.schemas import (Accepted, ConversationCreated, ConversationOut, EmailIn, MessageIn, NewConversation,
                              RatingIn, RatingOut, TurnOut)
from api.http.sse import SSE_RESPONSE, stream

router = APIRouter(prefix="/v1/conversations", tags=["customer"], responses=ERRORS_CUSTOMER)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="A retried POST with the same key returns the first result.")]


@router.post("", status_code=201, response_model=ConversationCreated)
async def create_conversation(service: ServiceDep, body: NewConversation | None = None):
    """Open a conversation; the token in the answer authorizes every later call about it."""
    customer = {"name": body.name} if body and body.name else {}
    return await anyio.to_thread.run_sync(service.create_conversation, customer)


async def _turn(request: Request, service, conversation_id: str, text: str, button: bool, key: str | None):
    await wait_ready(request)
    return await anyio.to_thread.run_sync(
        lambda: service.post_message(conversation_id, text, button=button, idempotency_key=key),
        limiter=request.app.state.turn_limiter)


@router.post("/{conversation_id}/messages", response_model=TurnOut)
async def post_message(request: Request, conversation_id: CustomerConversation, body: MessageIn, service: ServiceDep,
                       idempotency_key: IdempotencyKey = None):
    """The customer says something; the bot answers (or stays silent while a person has the chat)."""
    text = check_text(request, body.text)
    return await _turn(request, service, conversation_id, text, False, idempotency_key)


@router.post("/{conversation_id}/handoff", response_model=TurnOut)
async def handoff(request: Request, conversation_id: CustomerConversation, service: ServiceDep,
                  idempotency_key: IdempotencyKey = None):
    """The talk-to-a-human button."""
    return await _turn(request, service, conversation_id, "", True, idempotency_key)


@router.get("/{conversation_id}", response_model=ConversationOut, response_model_exclude_none=True)
async def get_conversation(conversation_id: CustomerConversation, service: ServiceDep):
    """State and the full transcript."""
    return await anyio.to_thread.run_sync(service.conversation, conversation_id)


@router.get("/{conversation_id}/transcript.txt", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"example": "[10:00] You: hi\n[10:00] Assistant: Hi!\n"}}}})
async def transcript(conversation_id: CustomerConversation, service: ServiceDep):
    """The transcript as plain text."""
    return PlainTextResponse(await anyio.to_thread.run_sync(service.transcript_text, conversation_id))


@router.post("/{conversation_id}/transcript/email", status_code=202, response_model=Accepted)
async def email_transcript(conversation_id: CustomerConversation, body: EmailIn, service: ServiceDep):
    """Email the transcript (needs TRIAGE_SMTP_URL; 409 otherwise)."""
    await anyio.to_thread.run_sync(service.email_transcript, conversation_id, body.email)
    return {"status": "sent"}


@router.get("/{conversation_id}/events", responses=SSE_RESPONSE)
async def events(request: Request, conversation_id: CustomerConversation, service: ServiceDep,
                 after: Annotated[int | None, Query(ge=0, le=2**62, description="Resume after this event id (or send Last-Event-ID).")] = None):
    """Server-Sent Events: message, state, typing, bot_token; `Last-Event-ID` / `?after=` replays what was missed."""
    start = last_event_id(request, after)
    return stream(request, lambda last: service.events(conversation_id, last), start)


@router.post("/{conversation_id}/typing", status_code=204, response_class=Response)
async def typing(conversation_id: CustomerConversation, service: ServiceDep):
    """The customer is typing (a `typing` event for the agent)."""
    await anyio.to_thread.run_sync(service.assistant.typing, conversation_id, "customer")
    return Response(status_code=204)


@router.post("/{conversation_id}/rating", response_model=RatingOut)
async def rate(conversation_id: CustomerConversation, body: RatingIn, service: ServiceDep):
    """CSAT after a person resolved the chat (409 before)."""
    return await anyio.to_thread.run_sync(service.rate, conversation_id, body.score, body.comment)
