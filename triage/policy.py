"""The policy file (store, live-chat hours, escalation rules) and the escalation decision.

Every turn, :meth:`EscalationPolicy.decide` looks at the message's classification, whether the
bot could answer, the conversation so far and the customer, and returns a :class:`Decision`:
hand off or not, every reason with a code and a detail, and a priority.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from triage.errors import ConfigurationError

REASON_CODES = ("human_request", "three_strikes", "frustration", "high_stakes", "vip_or_large_order", "repeated_question")
PRIORITIES = ("low", "normal", "high", "urgent")


def shipped_policy_path() -> Path:
    return Path(str(resources.files("triage") / "data" / "policy.toml"))


@dataclass
class EscalationRules:
    human_request: bool = True
    strikes: int = 3
    frustration_threshold: float | None = None  # None: the classifier's own (cross-validated) threshold
    negative_sentiment_below: float = -0.97
    negative_sentiment_min_frustration: float = 0.3
    high_stakes: list[str] = field(default_factory=lambda: ["chargeback", "damaged_item", "billing_dispute", "fraud",
                                                            "legal", "formal_complaint"])
    vip: bool = True
    large_order_total: float = 500.0
    repeated_question: bool = True
    repeat_similarity: float = 0.9
    reask_similarity: float = 0.25


@dataclass
class PolicyConfig:
    store: dict
    hours: dict
    escalation: EscalationRules
    priority: dict

    @classmethod
    def load(cls, path: Path | None = None) -> "PolicyConfig":
        p = Path(path) if path else shipped_policy_path()
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"policy file {p} does not exist (TRIAGE_POLICY_FILE)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"policy file {p} is not valid TOML: {exc}") from None
        esc = data.get("escalation", {})
        unknown = set(esc) - set(EscalationRules.__dataclass_fields__)
        if unknown:
            raise ConfigurationError(f"policy file {p}: unknown [escalation] key(s) {', '.join(sorted(unknown))}")
        try:
            rules = EscalationRules(**esc)
        except TypeError as exc:
            raise ConfigurationError(f"policy file {p}: {exc}") from None
        if rules.strikes < 1 or (rules.frustration_threshold is not None and not 0 <= rules.frustration_threshold <= 1):
            raise ConfigurationError(f"policy file {p}: strikes must be >= 1 and frustration_threshold in [0, 1]")
        for stake in rules.high_stakes:
            if stake not in ("chargeback", "damaged_item", "billing_dispute", "fraud", "legal", "formal_complaint"):
                raise ConfigurationError(f"policy file {p}: unknown high_stakes kind '{stake}'")
        return cls(data.get("store", {}), data.get("hours", {}), rules, data.get("priority", {}))


@dataclass
class Reason:
    code: str
    detail: str

    def public(self) -> dict:
        return {"code": self.code, "detail": self.detail}


@dataclass
class Decision:
    handoff: bool
    reasons: list[Reason]
    priority: str

    def public(self) -> dict:
        return {"handoff": self.handoff, "reasons": [r.public() for r in self.reasons], "priority": self.priority}


@dataclass
class TurnFacts:
    """What the policy needs to know about this turn, gathered by the turn pipeline."""

    classification: object  # triage.classifier.Classification
    button: bool = False  # the "talk to a human" button
    abstained: bool = False  # the bot could not answer this message
    strikes: int = 0  # abstentions so far in this conversation, this turn included
    repeated_after_answer: float | None = None  # similarity to the last question the bot answered
    reask: bool = False  # worded as asking again ("ok but...", "i mean...", "i don't get it")
    customer_vip: bool = False
    order_total: float | None = None
    order_number: str | None = None
    has_problem: bool = False  # the turn is about a problem, not a plain question


class EscalationPolicy:
    def __init__(self, config: PolicyConfig):
        self.config = config
        self.rules = config.escalation

    def decide(self, facts: TurnFacts) -> Decision:
        r, c = self.rules, facts.classification
        reasons: list[Reason] = []
        if r.human_request and (facts.button or c.human_request):
            reasons.append(Reason("human_request", "pressed the talk-to-a-human button" if facts.button
                                  else "asked for a person"))
        if facts.abstained and facts.strikes >= r.strikes:
            reasons.append(Reason("three_strikes", f"the bot could not answer {facts.strikes} times"))
        if (c.frustrated if r.frustration_threshold is None else c.frustration >= r.frustration_threshold):
            detail = next((x["detail"] for x in c.reasons if x["code"] == "frustration"), f"frustration {c.frustration:.2f}")
            reasons.append(Reason("frustration", detail))
        elif c.sentiment_score <= r.negative_sentiment_below and c.frustration >= r.negative_sentiment_min_frustration:
            reasons.append(Reason("frustration", f"very negative sentiment ({c.sentiment_score:.2f})"))
        if c.high_stakes and c.high_stakes in r.high_stakes:
            reasons.append(Reason("high_stakes", c.high_stakes.replace("_", " ")))
        if r.vip and facts.has_problem and (facts.customer_vip or (
                facts.order_total is not None and facts.order_total >= r.large_order_total)):
            who = "VIP customer" if facts.customer_vip else f"order {facts.order_number or ''} total {facts.order_total:,.2f}".replace("  ", " ")
            reasons.append(Reason("vip_or_large_order", who))
        sim = facts.repeated_after_answer
        if r.repeated_question and sim is not None and (sim >= r.repeat_similarity or (facts.reask and sim >= r.reask_similarity)):
            reasons.append(Reason("repeated_question", f"asked again after the bot's answer (similarity {sim:.2f}"
                                                        f"{', re-ask wording' if facts.reask else ''})"))
        return Decision(bool(reasons), reasons, self.priority(reasons, c))

    def priority(self, reasons: list[Reason], c) -> str:
        if not reasons:
            return "low"
        kinds = {x.code for x in reasons} | ({c.high_stakes} if c.high_stakes else set())
        if kinds & set(self.config.priority.get("urgent", ["legal", "fraud", "chargeback"])):
            return "urgent"
        if kinds & set(self.config.priority.get("high", [])) or c.frustration >= 0.85:
            return "high"
        return "normal"
