"""Conversation states and the only transitions allowed between them.

    bot -> queued -> human -> resolved -> bot ...      (in live-chat hours)
    bot -> ticket -> human -> resolved -> bot ...      (out of hours: an agent picks the ticket up later)

The bot answers only in ``bot`` and ``ticket`` (out of hours it keeps helping while the ticket
waits, but never opens a second one); in ``queued`` and ``human`` it is silent and customer
messages go to the agent. A handoff is only possible from ``bot``, so there are no handoff loops;
after ``resolved`` the next customer message returns the chat to the bot and a new escalation works.
An agent may also *release* a queued or held chat straight back to the bot (``queued|human -> bot``).
"""

from __future__ import annotations

from enum import Enum

from triage.errors import IllegalTransitionError


class State(str, Enum):
    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    RESOLVED = "resolved"
    TICKET = "ticket"


ALLOWED: dict[State, set[State]] = {
    State.BOT: {State.QUEUED, State.TICKET},
    State.QUEUED: {State.HUMAN, State.RESOLVED, State.BOT},
    State.HUMAN: {State.RESOLVED, State.BOT},
    State.RESOLVED: {State.BOT},
    State.TICKET: {State.HUMAN, State.RESOLVED},
}

BOT_SILENT = frozenset({State.QUEUED, State.HUMAN})  # a person has (or is about to take) the chat


def transition(current: State, target: State) -> State:
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "nothing"
        raise IllegalTransitionError(f"a conversation in '{current.value}' cannot move to '{target.value}' "
                                     f"(allowed: {allowed})")
    return target
