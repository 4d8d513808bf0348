"""One chat turn, top to bottom: state check -> classify -> order lookup / answer -> decide -> hand off.

:meth:`Assistant.handle` is the whole pipeline; every step is a call into its own module. The
agent-side moves (claim, reply, release, resolve) are here too, so the state machine has one owner.
Each turn or move is written in one store transaction (its messages, the state change checked
against the version it read, ticket, handoff and event-log entries); events are published after it
commits, so a listener never sees something that was not stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from triage.classifier import is_reask
from triage.conversation import (Conversation, ConversationStore, EventBus, Handoff, InProcessEventBus, Message,
                                 Ticket, new_id)
from triage.errors import IllegalTransitionError, NotFoundError
from triage.orders import OrderSource, extract_details, lookup
from triage.policy import Decision, EscalationPolicy, TurnFacts
from triage.redact import redact
from triage.state import BOT_SILENT, State
from triage.summary import HandoffSummary, Turn, build_summary

BUTTON = "/human"
PROBLEM_INTENTS = {"damaged_or_wrong_item", "complaint", "refund", "payment_or_billing_issue", "cancel_or_change_order"}
NO_STRIKE_INTENTS = {"greeting_or_thanks", "other", "human_request"}


@dataclass
class TurnResult:
    conversation_id: str
    reply: str | None  # None: the bot stays silent (a person has the chat)
    state: State
    decision: Decision | None = None
    classification: object = None
    answer: object = None
    summary: HandoffSummary | None = None
    ticket: Ticket | None = None
    events: list[dict] = field(default_factory=list)
    message_id: str | None = None  # the customer's message as stored
    ticket_id: str | None = None  # the conversation's ticket, if it has one


@dataclass
class _Writes:
    """What a turn or move writes besides the conversation row and its new messages."""

    ticket: Ticket | None = None
    ticket_note: tuple[str, str, str] | None = None  # (ticket id, text, author)
    handoff: Handoff | None = None
    handoff_update: dict | None = None
    states: list[dict] = field(default_factory=list)  # `state` events, in order
    idempotency_key: str | None = None


class Assistant:
    def __init__(self, *, answerer, classifier, policy: EscalationPolicy, hours, orders: OrderSource,
                 store: ConversationStore, clock, bus: EventBus | None = None, llm_summarizer=None,
                 log: Callable[[dict], None] | None = None):
        self.answerer = answerer
        self.classifier = classifier
        self.policy = policy
        self.hours = hours
        self.orders = orders
        self.store = store
        self.clock = clock
        self.bus = bus or InProcessEventBus()
        self.llm_summarizer = llm_summarizer
        self.log = log
        self.store_info = policy.config.store

    # -- the turn --------------------------------------------------------------------------------
    def handle(self, conversation_id: str, text: str, *, button: bool = False, customer: dict | None = None,
               idempotency_key: str | None = None) -> TurnResult:
        now = self.clock.now()
        text = (text or "").strip() or (BUTTON if button else "")
        button = button or text == BUTTON
        conv = self.store.get(conversation_id) or Conversation(conversation_id, now, dict(customer or {}))
        if customer:
            conv.customer.update(customer)
        start, writes = len(conv.messages), _Writes(idempotency_key=idempotency_key)
        incoming = conv.add("customer", text, now)

        # 1. a person has the chat: store the message, tell the agent, the bot stays silent
        if conv.state in BOT_SILENT:
            return self._finish(conv, start, writes, None,
                                {"type": "customer_message", "text": text, "state": conv.state.value})
        if conv.state == State.RESOLVED:
            conv.move(State.BOT)
            writes.states.append({"state": State.BOT.value, "detail": "back_to_bot"})

        # 2. classify (intent, sentiment, frustration, human request, high stakes)
        vector = self.classifier.embedder.embed_query(text)
        incoming.vector = [float(x) for x in vector]
        cls = self.classifier.classify(text, vector)
        incoming.meta["classification"] = cls.public()

        # 3. find the order, or answer from the knowledge base
        details = extract_details(conv.customer_texts())
        order_total = order_number = None
        answer, reply, abstained = None, None, False
        if details.order_numbers:
            order_number = details.order_numbers[-1]
            order_total, vip_order = self._order_value(order_number)
            conv.customer["vip"] = conv.customer.get("vip") or vip_order
        if button or (cls.intent == "human_request" and cls.human_request):
            reply = None  # the handoff message below says it all
        elif cls.intent == "order_status" or (
                conv.pending == "order_details" and (details.order_numbers or details.email or details.zip)):
            result = lookup(self.orders, details)
            reply = result.reply
            conv.pending = None if result.status == "verified" else "order_details"
        elif cls.intent == "greeting_or_thanks":
            reply = self._greeting(text)
        elif conv.state == State.TICKET and conv.pending == "email" and details.email:
            reply = "Thanks, I've added your email to the ticket. Our team will reply there."
            conv.pending = None
        else:
            answer = self.answerer.answer(text)
            reply, abstained = answer.text, answer.abstained
        if abstained and cls.intent not in NO_STRIKE_INTENTS:
            conv.strikes += 1

        # 4. decide: does a person take over, and why
        facts = TurnFacts(
            classification=cls, button=button, abstained=abstained and cls.intent not in NO_STRIKE_INTENTS,
            strikes=conv.strikes, repeated_after_answer=self._repeat_similarity(conv, vector), reask=is_reask(text),
            customer_vip=bool(conv.customer.get("vip")), order_total=order_total, order_number=order_number,
            has_problem=has_problem(cls),
        )
        decision = self.policy.decide(facts)
        conv.decisions.append({"at": now.isoformat(), "message": redact(text), **decision.public(),
                               **cls.public()})
        if self.log:
            self.log({"conversation_id": conv.id, "at": now.isoformat(), "message": redact(text), **cls.public(),
                      **decision.public(), "state": conv.state.value})

        # 5. hand off: queue with summary in hours, a ticket out of hours; never twice
        summary = ticket = None
        if decision.handoff and conv.state == State.BOT:
            summary = self.summarize(conv, decision, cls.high_stakes)
            conv.summary = summary.public()
            reasons = [r.public() for r in decision.reasons]
            if self.hours.is_open(now):
                conv.move(State.QUEUED)
                writes.handoff = Handoff(conv.id, reasons, summary.public(), decision.priority, now, cls.sentiment)
                writes.states.append({"state": State.QUEUED.value, "detail": "queued", "priority": decision.priority,
                                      "reasons": [r["code"] for r in reasons]})
                reply = self._queued_reply(cls, decision)
            else:
                conv.move(State.TICKET)
                ticket = Ticket(new_id("T"), conv.id, now, details.email, summary.public(), decision.priority)
                writes.ticket, conv.ticket_id = ticket, ticket.id
                opening = self.hours.next_opening(now)
                writes.states.append({"state": State.TICKET.value, "detail": "ticket_created", "ticket_id": ticket.id,
                                      "next_opening": opening.isoformat() if opening else None,
                                      "next_opening_text": self.hours.describe_next_opening(now)})
                reply = self._offline_reply(details.email, now)
                conv.pending = None if details.email else "email"
        elif decision.handoff and conv.state == State.TICKET and conv.ticket_id:
            writes.ticket_note = (conv.ticket_id, redact(text), "customer")
            reply = (reply + " " if reply and not abstained else "") + "I've added this to your ticket for our team."

        event = {"type": "bot_reply", "text": reply, "state": conv.state.value, "decision": decision.public(),
                 "classification": cls.public()}
        if summary:
            event = {**event, "type": "handoff", "summary": summary.public(),
                     "ticket_id": ticket.id if ticket else None}
        meta = {"decision": decision.public(), "classification": cls.public(), "state": conv.state.value}
        if answer is not None:
            meta.update(citations=[c.public() for c in answer.citations], abstained=answer.abstained,
                        confidence=answer.confidence)
        conv.add("bot", reply or "", now, **meta)
        result = self._finish(conv, start, writes, reply, event)
        result.decision, result.classification, result.answer = decision, cls, answer
        result.summary, result.ticket = summary, ticket
        return result

    def _finish(self, conv: Conversation, start: int, writes: _Writes, reply: str | None, event: dict) -> TurnResult:
        """Commit the turn or move (one transaction), then publish its event."""
        self._commit(conv, start, writes)
        event = {"conversation_id": conv.id, **event}
        self.bus.publish(event)
        first = conv.messages[start] if len(conv.messages) > start else None
        return TurnResult(conv.id, reply, conv.state, events=[event], ticket_id=conv.ticket_id,
                          message_id=first.id if first else None)

    def _commit(self, conv: Conversation, start: int, w: _Writes) -> None:
        with self.store.transaction() as tx:
            if conv.version == 0:
                tx.create_conversation(conv)
            conv.version = tx.update_conversation(conv.id, conv.version, **conv.fields())
            for m in conv.messages[start:]:
                tx.append_message(conv.id, m, w.idempotency_key if m.speaker == "customer" else None)
            if w.ticket:
                tx.create_ticket(w.ticket)
            if w.ticket_note:
                tx.add_ticket_note(*w.ticket_note)
            if w.handoff:
                tx.queue_handoff(w.handoff)
            if w.handoff_update:
                tx.update_handoff(conv.id, **w.handoff_update)
            for m in conv.messages[start:]:
                if m.text:
                    tx.add_event(conv.id, "message", message_event(m), m.at)
            for state in w.states:
                tx.add_event(conv.id, "state", state, self.clock.now())

    # -- agent side ------------------------------------------------------------------------------
    def take_over(self, conversation_id: str, agent: str) -> Conversation:
        """Claim a queued chat (or a ticket's): the bot falls silent. A second claimant gets ConflictError."""
        conv, now = self._get(conversation_id), self.clock.now()
        if conv.state == State.HUMAN:
            from triage.errors import ConflictError

            raise ConflictError(f"conversation {conversation_id} is already held by {conv.agent}")
        start = len(conv.messages)
        conv.move(State.HUMAN)
        conv.agent = agent
        conv.add("system", f"{agent} joined the chat", now)
        writes = _Writes(handoff_update={"claimed_at": now, "agent": agent},
                         states=[{"state": State.HUMAN.value, "detail": "agent_joined", "agent": agent}])
        self._finish(conv, start, writes, None, {"type": "agent_joined", "agent": agent, "state": conv.state.value})
        return conv

    def agent_reply(self, conversation_id: str, agent: str, text: str) -> Conversation:
        conv = self._get(conversation_id)
        if conv.state != State.HUMAN:
            raise IllegalTransitionError(f"take over conversation {conversation_id} before replying (state: {conv.state.value})")
        self._check_holder(conv, agent)
        start, now = len(conv.messages), self.clock.now()
        conv.add("agent", text, now, agent=agent)
        self._finish(conv, start, _Writes(handoff_update={"first_agent_reply_at": now}), text,
                     {"type": "agent_reply", "agent": agent, "text": text, "state": conv.state.value})
        return conv

    def release(self, conversation_id: str, agent: str) -> Conversation:
        """Hand a queued or held chat back to the bot."""
        conv, now = self._get(conversation_id), self.clock.now()
        if conv.state == State.HUMAN:
            self._check_holder(conv, agent)
        start = len(conv.messages)
        conv.move(State.BOT)
        conv.agent, conv.strikes, conv.pending = None, 0, None
        conv.add("system", "The assistant is back in the chat", now)
        writes = _Writes(handoff_update={"resolved_at": now, "outcome": "released"},
                         states=[{"state": State.BOT.value, "detail": "released", "agent": agent}])
        self._finish(conv, start, writes, None, {"type": "released", "agent": agent, "state": conv.state.value})
        return conv

    def resolve(self, conversation_id: str, agent: str | None = None) -> Conversation:
        conv, now = self._get(conversation_id), self.clock.now()
        if agent and conv.state == State.HUMAN:
            self._check_holder(conv, agent)
        conv.move(State.RESOLVED)
        conv.strikes = 0
        conv.pending = None
        writes = _Writes(handoff_update={"resolved_at": now, "outcome": "resolved"},
                         states=[{"state": State.RESOLVED.value, "detail": "resolved"}])
        self._finish(conv, len(conv.messages), writes, None, {"type": "resolved", "state": conv.state.value})
        return conv

    def ticket_reply(self, ticket_id: str, agent: str, text: str) -> Conversation:
        """An agent answers a ticket: a note on the ticket and a message in the customer's chat."""
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        conv, now = self._get(ticket.conversation_id), self.clock.now()
        start = len(conv.messages)
        conv.add("agent", text, now, agent=agent, ticket_id=ticket_id)
        self._finish(conv, start, _Writes(ticket_note=(ticket_id, text, agent)), text,
                     {"type": "agent_reply", "agent": agent, "text": text, "state": conv.state.value})
        return conv

    def typing(self, conversation_id: str, who: str) -> None:
        """A `typing` event (not stored as a message; it does not change the conversation)."""
        with self.store.transaction() as tx:
            tx.add_event(conversation_id, "typing", {"speaker": who}, self.clock.now())

    def _check_holder(self, conv: Conversation, agent: str) -> None:
        if conv.agent and conv.agent != agent:
            from triage.errors import ConflictError

            raise ConflictError(f"conversation {conv.id} is held by {conv.agent}")

    def _get(self, conversation_id: str) -> Conversation:
        conv = self.store.get(conversation_id)
        if conv is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return conv

    # -- helpers ---------------------------------------------------------------------------------
    def summarize(self, conv: Conversation, decision: Decision, high_stakes: str | None) -> HandoffSummary:
        turns = conversation_turns(conv)
        summary = build_summary(turns, [r.public() for r in decision.reasons], decision.priority, high_stakes)
        if self.llm_summarizer is not None:
            summary.paragraph = self.llm_summarizer.paragraph(turns, summary)
        return summary

    def _order_value(self, order_number: str) -> tuple[float | None, bool]:
        """The order's value and VIP flag, for the policy only (never shown before verification)."""
        try:
            order = self.orders.get(order_number)
        except Exception:
            return None, False
        return (order.total, order.vip) if order else (None, False)

    def _repeat_similarity(self, conv: Conversation, vector) -> float | None:
        """Similarity to the previous customer message, if the bot answered it from the documents."""
        msgs = conv.messages
        if len(msgs) < 3:
            return None
        prev, bot = msgs[-3], msgs[-2]
        if prev.speaker != "customer" or bot.speaker != "bot" or prev.vector is None:
            return None
        if bot.meta.get("abstained", True) or not bot.meta.get("citations"):
            return None
        return float(np.dot(np.asarray(prev.vector, dtype=np.float32), vector))

    def _greeting(self, text: str) -> str:
        name = self.store_info.get("assistant_name", "the store assistant")
        if any(w in text.lower() for w in ("thank", "thx", "ty", "cheers", "appreciate", "great", "perfect", "awesome")):
            return "You're welcome! Anything else I can help with?"
        if any(w in text.lower() for w in ("bye", "goodbye", "see ya", "later")):
            return "Bye for now, and thanks for shopping with us!"
        return (f"Hi! I'm {name}. I can help with orders, shipping, returns, refunds, sizing and payments, "
                "or connect you with a person any time.")

    def _queued_reply(self, cls, decision: Decision) -> str:
        sorry = "I'm sorry about this. " if cls.sentiment == "negative" or cls.frustrated or cls.high_stakes else ""
        return (f"{sorry}I'm connecting you with a member of our team now. They'll see our whole conversation, "
                "so you won't need to repeat yourself.")

    def _offline_reply(self, email: str | None, now) -> str:
        when = self.hours.describe_next_opening(now)
        base = (f"Our team is offline right now, so I've created a support ticket with our conversation. "
                f"Agents are back online at {when}.")
        if email:
            return base + " We'll reply to the email address you gave us."
        return base + " What's the best email address to reach you?"


def has_problem(cls) -> bool:
    """A real problem, not a plain question: what makes a VIP or a large order worth a person."""
    return bool(cls.intent in PROBLEM_INTENTS or cls.sentiment == "negative" or cls.high_stakes or cls.frustrated)


def first_message_facts(cls, text: str, orders: OrderSource | None = None) -> TurnFacts:
    """Policy facts for a message judged as the first one of a new chat (no history)."""
    total = number = None
    vip = False
    found = extract_details([text]).order_numbers
    if found and orders is not None:
        number = found[-1]
        try:
            order = orders.get(number)
        except Exception:
            order = None
        if order:
            total, vip = order.total, order.vip
    return TurnFacts(classification=cls, customer_vip=vip, order_total=total, order_number=number,
                     has_problem=has_problem(cls))


def conversation_turns(conv: Conversation) -> list[Turn]:
    turns = []
    for m in conv.messages:
        if m.speaker == "system" or (m.speaker == "bot" and not m.text):
            continue
        cls = (m.meta.get("classification") or {}) if m.speaker == "customer" else {}
        turns.append(Turn(m.speaker, m.text, intent=cls.get("intent"),
                          sentiment=(cls.get("sentiment") or {}).get("label"),
                          citations=sorted({c["title"] for c in m.meta.get("citations", [])}),
                          abstained=bool(m.meta.get("abstained"))))
    return turns


def message_event(m: Message) -> dict:
    """The `message` event a customer's widget sees: who said what, with the answer's citations."""
    data = {"message_id": m.id, "speaker": m.speaker, "text": m.text, "at": m.at.isoformat()}
    if m.speaker == "agent":
        data["agent"] = m.meta.get("agent")
    if m.speaker == "bot" and "citations" in m.meta:
        data.update(citations=m.meta["citations"], confidence=m.meta.get("confidence"),
                    abstained=m.meta.get("abstained"))
    return data
