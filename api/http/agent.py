"""Agent routes (`Authorization: Bearer AGENT_KEY`): queue, claim / reply / release / resolve, live events,
tickets, macros, stats."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from api.http.deps import ERRORS_AGENT, Agent, ConversationId, ServiceDep, check_text, last_event_id
from api.http.schemas import (AgentMessageOut, ConversationOut, MacroIn, MacroOut, MessageIn, QueueItem, RenderIn,
                              RenderOut, StateOut, StatsOut, TicketOut)
from api.http.sse import SSE_RESPONSE, stream

router = APIRouter(prefix="/v1/agent", tags=["agent"], responses=ERRORS_AGENT)


def run(fn, *args):
    return anyio.to_thread.run_sync(fn, *args)


@router.get("/queue", response_model=list[QueueItem])
async def queue(agent: Agent, service: ServiceDep):
    """Waiting handoffs: highest priority, then longest waiting, first; each with its summary and reasons."""
    return await run(service.queue)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, response_model_exclude_none=True)
async def conversation(conversation_id: ConversationId, agent: Agent, service: ServiceDep):
    """The conversation with its summary, customer details and each message's classification."""
    return await run(lambda: service.conversation(conversation_id, agent_view=True))


@router.post("/conversations/{conversation_id}/claim", response_model=ConversationOut, response_model_exclude_none=True)
async def claim(conversation_id: ConversationId, agent: Agent, service: ServiceDep):
    """Take the chat: the bot falls silent. If another agent claimed it first: 409."""
    return await run(service.claim, conversation_id, agent)


@router.post("/conversations/{conversation_id}/messages", response_model=AgentMessageOut)
async def message(request: Request, conversation_id: ConversationId, body: MessageIn, agent: Agent,
                  service: ServiceDep):
    """Reply to the customer (claim first)."""
    return await run(service.agent_message, conversation_id, agent, check_text(request, body.text))


@router.post("/conversations/{conversation_id}/typing", status_code=204, response_class=Response)
async def typing(conversation_id: ConversationId, agent: Agent, service: ServiceDep):
    """The agent is typing (a `typing` event for the customer)."""
    service._get(conversation_id)
    await run(service.assistant.typing, conversation_id, "agent")
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/resolve", response_model=StateOut)
async def resolve(conversation_id: ConversationId, agent: Agent, service: ServiceDep):
    """Done: the next customer message goes to the bot again."""
    return await run(service.resolve, conversation_id, agent)


@router.post("/conversations/{conversation_id}/release", response_model=StateOut)
async def release(conversation_id: ConversationId, agent: Agent, service: ServiceDep):
    """Hand the chat back to the bot without resolving it."""
    return await run(service.release, conversation_id, agent)


@router.get("/events", responses=SSE_RESPONSE)
async def events(request: Request, agent: Agent, service: ServiceDep,
                 after: Annotated[int | None, Query(ge=0, le=2**62, description="Resume after this event id.")] = None):
    """SSE of queue changes (`state`) and of messages in chats this agent holds; ids are global sequence numbers."""
    start = last_event_id(request, after)
    return stream(request, lambda last: service.agent_events(agent, last), start, global_ids=True)


@router.get("/tickets", response_model=list[TicketOut])
async def tickets(agent: Agent, service: ServiceDep, status: Literal["open", "closed"] | None = None):
    """Out-of-hours tickets, oldest first."""
    return await run(service.tickets, status)


@router.post("/tickets/{ticket_id}/reply", response_model=TicketOut)
async def ticket_reply(request: Request, ticket_id: ConversationId, body: MessageIn, agent: Agent,
                       service: ServiceDep):
    """Answer a ticket: a note on it, a message in the customer's chat (and an email when SMTP is set)."""
    return await run(service.ticket_reply, ticket_id, agent, check_text(request, body.text))


@router.post("/tickets/{ticket_id}/close", response_model=TicketOut)
async def ticket_close(ticket_id: ConversationId, agent: Agent, service: ServiceDep):
    """Close the ticket (its chat is resolved)."""
    return await run(service.close_ticket, ticket_id, agent)


@router.post("/macros", status_code=201, response_model=MacroOut)
async def create_macro(body: MacroIn, agent: Agent, service: ServiceDep):
    """A canned reply; variables {customer_name} and {order_number}."""
    return await run(service.create_macro, body.name, body.body, agent)


@router.get("/macros", response_model=list[MacroOut])
async def macros(agent: Agent, service: ServiceDep):
    return await run(service.macros)


@router.post("/macros/{macro_id}/render", response_model=RenderOut)
async def render_macro(macro_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: RenderIn, agent: Agent, service: ServiceDep):
    """The macro filled in for one conversation."""
    return await run(service.render_macro, macro_id, body.conversation_id)


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True)
async def stats(agent: Agent, service: ServiceDep,
                from_: Annotated[datetime | None, Query(alias="from", description="Start (ISO 8601 with zone).")] = None,
                to: Annotated[datetime | None, Query(description="End (ISO 8601 with zone).")] = None):
    """First-response and waiting time, automated-resolution rate, handoff rate by reason, CSAT."""
    return await run(service.stats, from_, to)
