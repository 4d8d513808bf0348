"""The service's library functions: what the HTTP routes (and the CLI) call.

Customer side: open a conversation (with an unguessable token), send a message or press the
button (idempotent with a key; a turn that lost a version race is replayed on fresh state), read
the transcript, rate. Agent side: keys, the queue, claim / reply / release / resolve, tickets,
macros, stats; admin: documents and the policy file. The turn itself is ``Assistant.handle``.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from api.db.store import SqlStore, hash_key
from triage.assistant import Assistant
from triage.conversation import Conversation, Message, new_id, new_token
from triage.errors import (ConflictError, ForbiddenError, IllegalTransitionError, InvalidInputError, NotFoundError,
                           UnauthorizedError)
from triage.orders import extract_details
from triage.state import State

RETRIES = 5


@dataclass(frozen=True)
class AgentIdentity:
    name: str
    admin: bool


def new_agent_key() -> str:
    return "tk_" + secrets.token_urlsafe(32)


def add_agent(store: SqlStore, name: str, admin: bool = False) -> str:
    """Create an agent; returns the key (shown once, stored only as a hash)."""
    name = (name or "").strip()
    if not re.fullmatch(r"[\w .'-]{1,120}", name):
        raise InvalidInputError("an agent name is 1-120 letters, digits, spaces, dots, apostrophes or dashes")
    key = new_agent_key()
    store.add_agent(name, key, admin)
    return key


class Service:
    def __init__(self, store: SqlStore, assistant: Assistant, *, policy_text: str = "", container=None, smtp=None):
        self.store = store
        self.assistant = assistant
        self.container = container
        self.policy_text = policy_text
        self.smtp = smtp  # (url, sender) or None
        self.jobs: dict[str, dict] = {}
        self._jobs_lock = threading.Lock()

    @property
    def clock(self):
        return self.assistant.clock

    # -- customers -----------------------------------------------------------------------------
    def create_conversation(self, customer: dict | None = None) -> dict:
        now = self.clock.now()
        conv = Conversation(new_id("C"), now, dict(customer or {}))
        token = new_token()
        greeting = self.assistant._greeting("hi")
        msg = Message("bot", greeting, now, {"state": State.BOT.value})
        with self.store.transaction() as tx:
            tx.create_conversation(conv, token_hash=hash_key(token))
            tx.append_message(conv.id, msg)
            from triage.assistant import message_event

            tx.add_event(conv.id, "message", message_event(msg), now)
        return {"conversation_id": conv.id, "token": token, "state": conv.state.value, "greeting": greeting}

    def authorize_customer(self, conversation_id: str, token: str | None) -> None:
        """A token reads and writes only its own conversation: anything else is 'not found' (never 403)."""
        stored = self.store.token_hash(conversation_id)
        if not token or stored is None or not hmac.compare_digest(stored, hash_key(token)):
            raise NotFoundError(f"no conversation {conversation_id}")

    def post_message(self, conversation_id: str, text: str, *, button: bool = False,
                     idempotency_key: str | None = None) -> dict:
        """One customer turn (runs the models: call it from a worker thread)."""
        for attempt in range(RETRIES):
            if idempotency_key:
                done = self.store.find_idempotent(conversation_id, idempotency_key)
                if done is not None:
                    return self._replay(conversation_id, done)
            try:
                result = self.assistant.handle(conversation_id, text, button=button, idempotency_key=idempotency_key)
            except ConflictError:
                if attempt == RETRIES - 1:
                    raise
                continue
            return turn_response(result)
        raise ConflictError("the conversation kept changing; retry")  # pragma: no cover

    def _replay(self, conversation_id: str, customer_msg: Message) -> dict:
        bot = self.store.message_after(conversation_id, customer_msg.id, "bot")
        conv = self.store.get(conversation_id)
        if bot is None or not bot.text:
            return {"message_id": customer_msg.id, "state": conv.state.value, "reply": None,
                    "decision": SILENT_DECISION, "ticket_id": conv.ticket_id}
        return {"message_id": customer_msg.id, "state": bot.meta.get("state", conv.state.value),
                "reply": reply_body(bot.text, bot.meta), "decision": bot.meta.get("decision") or SILENT_DECISION,
                "ticket_id": conv.ticket_id}

    def conversation(self, conversation_id: str, *, agent_view: bool = False) -> dict:
        conv = self._get(conversation_id)
        out = {"conversation_id": conv.id, "state": conv.state.value, "created_at": conv.created_at,
               "agent": conv.agent, "ticket_id": conv.ticket_id,
               "messages": [message_body(m, agent_view) for m in conv.messages if m.text]}
        if agent_view:
            out.update(summary=conv.summary, customer=conv.customer, strikes=conv.strikes)
        return out

    def transcript_text(self, conversation_id: str) -> str:
        conv = self._get(conversation_id)
        store_name = self.assistant.store_info.get("name", "Support")
        lines = [f"{store_name} chat {conv.id} ({conv.created_at:%Y-%m-%d %H:%M} UTC)", ""]
        for m in conv.messages:
            if not m.text:
                continue
            who = {"customer": "You", "bot": "Assistant", "system": "--"}.get(m.speaker, m.meta.get("agent") or "Agent")
            lines.append(f"[{m.at:%H:%M}] {who}: {m.text}")
        return "\n".join(lines) + "\n"

    def email_transcript(self, conversation_id: str, to: str) -> None:
        if not self.smtp:
            raise IllegalTransitionError("transcripts by email are off (set TRIAGE_SMTP_URL)")
        send_mail(self.smtp[0], self.smtp[1], to, f"Your chat transcript ({conversation_id})",
                  self.transcript_text(conversation_id))

    def rate(self, conversation_id: str, score: int, comment: str | None) -> dict:
        conv = self._get(conversation_id)
        resolved = conv.state == State.RESOLVED or any(h.outcome == "resolved" for h in self.store.handoffs(conv.id))
        if not resolved:
            raise IllegalTransitionError("a chat can be rated once a person has resolved it")
        self.store.add_rating(conv.id, score, comment, self.clock.now())
        return {"conversation_id": conv.id, "score": score, "comment": comment}

    def events(self, conversation_id: str, after: int):
        return self.store.events_after(conversation_id, after)

    # -- agents --------------------------------------------------------------------------------
    def authenticate_agent(self, key: str | None) -> AgentIdentity:
        found = self.store.agent_by_key(key) if key else None
        if not found:
            raise UnauthorizedError("send a valid agent key as 'Authorization: Bearer KEY' (create one with "
                                    "`triage agents add NAME`)")
        return AgentIdentity(*found)

    @staticmethod
    def require_admin(agent: AgentIdentity) -> None:
        if not agent.admin:
            raise ForbiddenError(f"{agent.name} is not an admin (`triage agents add NAME --admin`)")

    def queue(self) -> list[dict]:
        now = self.clock.now()
        return [{"conversation_id": h.conversation_id, "priority": h.priority, "reasons": h.reasons,
                 "summary": h.summary, "sentiment": h.sentiment, "queued_at": h.queued_at,
                 "waiting_seconds": max(0.0, round((now - h.queued_at).total_seconds(), 1))}
                for h in self.store.queue()]

    def claim(self, conversation_id: str, agent: AgentIdentity) -> dict:
        self._get(conversation_id)
        self.assistant.take_over(conversation_id, agent.name)
        return self.conversation(conversation_id, agent_view=True)

    def agent_message(self, conversation_id: str, agent: AgentIdentity, text: str) -> dict:
        self._get(conversation_id)
        conv = self.assistant.agent_reply(conversation_id, agent.name, text)
        return {"message_id": conv.messages[-1].id, "state": conv.state.value}

    def resolve(self, conversation_id: str, agent: AgentIdentity) -> dict:
        self._get(conversation_id)
        conv = self.assistant.resolve(conversation_id, agent.name)
        return {"conversation_id": conv.id, "state": conv.state.value}

    def release(self, conversation_id: str, agent: AgentIdentity) -> dict:
        self._get(conversation_id)
        conv = self.assistant.release(conversation_id, agent.name)
        return {"conversation_id": conv.id, "state": conv.state.value}

    def agent_events(self, agent: AgentIdentity, after: int):
        return self.store.agent_events_after(agent.name, after)

    # tickets
    def tickets(self, status: str | None = None) -> list[dict]:
        return self.store.list_tickets(status)

    def ticket_reply(self, ticket_id: str, agent: AgentIdentity, text: str) -> dict:
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        if ticket.status != "open":
            raise IllegalTransitionError(f"ticket {ticket_id} is closed")
        self.assistant.ticket_reply(ticket_id, agent.name, text)
        if ticket.email and self.smtp:
            send_mail(self.smtp[0], self.smtp[1], ticket.email, f"Re: your support ticket {ticket_id}", text)
        return self._ticket(ticket_id)

    def close_ticket(self, ticket_id: str, agent: AgentIdentity) -> dict:
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        conv = self._get(ticket.conversation_id)
        with self.store.transaction() as tx:
            tx.update_ticket(ticket_id, status="closed")
        if conv.state == State.TICKET:
            self.assistant.resolve(conv.id)
        return self._ticket(ticket_id)

    def _ticket(self, ticket_id: str) -> dict:
        return next(t for t in self.store.list_tickets() if t["ticket_id"] == ticket_id)

    # macros
    def create_macro(self, name: str, body: str, agent: AgentIdentity) -> dict:
        unknown = set(re.findall(r"{(\w*)}", body)) - MACRO_VARIABLES
        if unknown:
            raise InvalidInputError(f"unknown macro variable(s) {', '.join(sorted(unknown))}; use "
                                    f"{', '.join('{' + v + '}' for v in sorted(MACRO_VARIABLES))}")
        return self.store.create_macro(name, body, agent.name)

    def macros(self) -> list[dict]:
        return self.store.list_macros()

    def render_macro(self, macro_id: int, conversation_id: str) -> dict:
        macro = self.store.get_macro(macro_id)
        if macro is None:
            raise NotFoundError(f"no macro {macro_id}")
        conv = self._get(conversation_id)
        values = self.macro_values(conv)
        text = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1)) or "", macro["body"])
        return {"macro_id": macro_id, "conversation_id": conversation_id, "text": text, "variables": values}

    def macro_values(self, conv: Conversation) -> dict:
        details = extract_details(conv.customer_texts())
        order_number = details.order_numbers[-1] if details.order_numbers else None
        name = conv.customer.get("name")
        if not name and order_number:
            try:
                order = self.assistant.orders.get(order_number)
            except Exception:
                order = None
            if order is not None and details.email and order.email == details.email.lower():
                name = order.customer_name  # only a verified customer's name
        return {"customer_name": (name or "there").split(" ")[0], "order_number": order_number or ""}

    # stats
    def stats(self, start: datetime | None, end: datetime | None) -> dict:
        end = end or self.clock.now() + timedelta(seconds=1)
        start = start or end - timedelta(days=30)
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInputError("give dates with a timezone, e.g. 2026-11-01T00:00:00Z")
        if start >= end:
            raise InvalidInputError("'from' must be before 'to'")
        return {"from": start, "to": end, **self.store.stats(start, end)}

    # -- admin ---------------------------------------------------------------------------------
    def sources(self) -> list[dict]:
        index = self.container.index
        return [{"source": name, "title": info.title, "chunks": info.n_chunks, "ingested_at": info.ingested_at}
                for name, info in sorted(index.catalog.sources().items())]

    def delete_source(self, source: str) -> dict:
        index = self.container.index
        if source not in index.catalog.sources():
            raise NotFoundError(f"no source {source!r} in the knowledge base")
        ids = index.catalog.chunk_ids(source)
        if ids:
            index.vectors.delete(ids)
        index.catalog.remove_source(source)
        index.invalidate()
        return {"source": source, "deleted_chunks": len(ids)}

    def start_ingest(self, path, filename: str) -> dict:
        job = {"job_id": new_id("J"), "filename": filename, "status": "queued", "stage": None, "done": 0,
               "total": 0, "added": [], "failed": []}
        with self._jobs_lock:
            self.jobs[job["job_id"]] = job
        threading.Thread(target=self._ingest, args=(job, path), daemon=True).start()
        return dict(job)

    def _ingest(self, job: dict, path) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.update(status="running", stage=stage, done=done, total=total)

        try:
            job["status"] = "running"
            report = self.container.ingestor.ingest([str(path)], progress=progress)
            job.update(status="done" if report.ok else "failed", added=list(report.added) + list(report.updated),
                       failed=[str(f) for f in getattr(report, "failed", [])])
        except Exception as exc:  # reported on the job, never lost in a thread
            job.update(status="failed", failed=[str(exc)])

    def job(self, job_id: str) -> dict:
        with self._jobs_lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no ingest job {job_id}")
        return dict(job)

    # -- helpers -------------------------------------------------------------------------------
    def _get(self, conversation_id: str) -> Conversation:
        conv = self.store.get(conversation_id)
        if conv is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return conv


MACRO_VARIABLES = {"customer_name", "order_number"}
SILENT_DECISION = {"handoff": False, "reasons": [], "priority": "normal"}


def reply_body(text: str, meta: dict) -> dict:
    conf = meta.get("confidence")
    return {"text": text, "citations": [{"source": c["source"], "title": c["title"], "chunk_id": c["chunk_id"]}
                                        for c in meta.get("citations") or []],
            "confidence": round(float(conf), 4) if conf is not None else None,
            "abstained": bool(meta.get("abstained", False))}


def turn_response(result) -> dict:
    conv_state = result.state.value
    reply = None
    if result.reply is not None:
        meta = {}
        if result.answer is not None:
            meta = {"citations": [c.public() for c in result.answer.citations], "confidence": result.answer.confidence,
                    "abstained": result.answer.abstained}
        reply = reply_body(result.reply, meta)
    decision = result.decision.public() if result.decision is not None else SILENT_DECISION
    return {"message_id": result.message_id, "state": conv_state, "reply": reply, "decision": decision,
            "ticket_id": result.ticket_id}


def message_body(m: Message, agent_view: bool = False) -> dict:
    out = {"message_id": m.id, "speaker": m.speaker, "text": m.text, "at": m.at}
    if m.speaker == "agent":
        out["agent"] = m.meta.get("agent")
    if m.speaker == "bot" and m.meta.get("citations") is not None:
        out["citations"] = reply_body(m.text, m.meta)["citations"]
    if agent_view and m.speaker == "customer" and m.meta.get("classification"):
        out["classification"] = m.meta["classification"]
    return out


def send_mail(url: str, sender: str, to: str, subject: str, body: str) -> None:
    """Send one plain-text email through the SMTP server at ``url`` (smtp://[user:pass@]host:port)."""
    import smtplib
    from email.message import EmailMessage
    from urllib.parse import urlparse

    u = urlparse(url)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(u.hostname or "127.0.0.1", u.port or 25, timeout=10) as smtp:
            if u.scheme == "smtp+starttls":
                smtp.starttls()
            if u.username:
                smtp.login(u.username, u.password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        from triage.errors import TriageError

        err = TriageError(f"could not send the email ({exc})")
        err.status, err.code = 502, "smtp_error"
        raise err from None


def utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
