"""Live-chat hours with a fixed clock, the state machine's transitions, and the policy file."""

from __future__ import annotations

from datetime import datetime

import re

import pytest

from triage.errors import ConfigurationError, IllegalTransitionError
from triage.hours import LiveChatHours
from triage.policy import EscalationPolicy, PolicyConfig, TurnFacts
from triage.state import State, transition


@pytest.fixture(scope="module")
def hours():
    return LiveChatHours(PolicyConfig.load().hours)


def at(s: str) -> datetime:
    return datetime.fromisoformat(s)


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-11-24T10:00:00-05:00", True),   # Tuesday morning
        ("2026-11-24T08:59:00-05:00", False),  # before opening
        ("2026-11-24T18:00:00-05:00", False),  # closing time is exclusive
        ("2026-11-24T23:30:00+00:00", False),  # 23:30 UTC is 18:30 ET: closed
        ("2026-11-28T11:00:00-05:00", True),   # Saturday short hours
        ("2026-11-28T14:30:00-05:00", False),  # Saturday after 2 PM
        ("2026-11-29T11:00:00-05:00", False),  # Sunday
        ("2026-11-26T11:00:00-05:00", False),  # Thanksgiving
        ("2026-11-27T11:00:00-05:00", False),  # day after Thanksgiving
        ("2026-12-24T10:00:00-05:00", True),   # Christmas Eve morning
        ("2026-12-24T13:00:00-05:00", False),  # Christmas Eve afternoon
        ("2026-12-25T10:00:00-05:00", False),  # Christmas
        ("2026-07-03T10:00:00-04:00", True),   # summer time offset
    ],
)
def test_is_open(hours, when, open_):
    assert hours.is_open(at(when)) is open_


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("2026-11-24T07:00:00-05:00", "9:00 AM ET today"),
        ("2026-11-24T19:00:00-05:00", "9:00 AM ET tomorrow (Wednesday)"),
        ("2026-11-27T20:00:00-05:00", "10:00 AM ET tomorrow (Saturday)"),
        ("2026-11-28T15:00:00-05:00", "9:00 AM ET on Monday"),
        ("2026-11-25T19:00:00-05:00", "10:00 AM ET on Saturday"),  # Thanksgiving + day after closed
        ("2026-12-24T13:00:00-05:00", "10:00 AM ET on Saturday"),  # Christmas (Fri) closed
    ],
)
def test_next_opening_is_named_in_the_store_timezone(hours, when, says):
    assert hours.describe_next_opening(at(when)) == says


def test_transitions_allowed_and_refused():
    assert transition(State.BOT, State.QUEUED) == State.QUEUED
    assert transition(State.QUEUED, State.HUMAN) == State.HUMAN
    assert transition(State.HUMAN, State.RESOLVED) == State.RESOLVED
    assert transition(State.RESOLVED, State.BOT) == State.BOT
    assert transition(State.BOT, State.TICKET) == State.TICKET
    for a, b in [(State.HUMAN, State.QUEUED), (State.QUEUED, State.QUEUED), (State.TICKET, State.QUEUED),
                 (State.RESOLVED, State.HUMAN), (State.BOT, State.HUMAN)]:
        with pytest.raises(IllegalTransitionError, match=f"'{a.value}' cannot move to '{b.value}'"):
            transition(a, b)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[escalation\nstrikes = 3", "not valid TOML"),
        ("[escalation]\nstrikez = 3\n", "unknown [escalation] key(s) strikez"),
        ("[escalation]\nstrikes = 0\n", "strikes must be >= 1"),
        ("[escalation]\nhigh_stakes = [\"alien_invasion\"]\n", "unknown high_stakes kind"),
    ],
)
def test_bad_policy_files_are_explained(tmp_path, content, message):
    p = tmp_path / "policy.toml"
    p.write_text(content)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        PolicyConfig.load(p)


def test_bad_hours_are_explained():
    with pytest.raises(ConfigurationError, match="unknown timezone"):
        LiveChatHours({"timezone": "Mars/Olympus"})
    with pytest.raises(ConfigurationError, match="not a range"):
        LiveChatHours({"timezone": "UTC", "monday": ["9am to 5pm"]})
    with pytest.raises(ConfigurationError, match="holiday 'festivus'"):
        LiveChatHours({"timezone": "UTC", "holidays": ["festivus"]})


def test_policy_reasons_and_priority(classifier):
    policy = EscalationPolicy(PolicyConfig.load())
    calm = classifier.classify("how long do returns take")
    d = policy.decide(TurnFacts(calm))
    assert not d.handoff and d.reasons == [] and d.priority == "low"
    d = policy.decide(TurnFacts(calm, button=True))
    assert d.handoff and [r.code for r in d.reasons] == ["human_request"]
    d = policy.decide(TurnFacts(calm, abstained=True, strikes=3))
    assert [r.code for r in d.reasons] == ["three_strikes"]
    legal = classifier.classify("I'm going to sue you. My lawyer will be in touch about this.")
    assert policy.decide(TurnFacts(legal)).priority == "urgent"
    d = policy.decide(TurnFacts(calm, order_total=1240.0, order_number="JP-10240", has_problem=True))
    assert [r.code for r in d.reasons] == ["vip_or_large_order"]
    assert not policy.decide(TurnFacts(calm, order_total=1240.0, has_problem=False)).handoff
