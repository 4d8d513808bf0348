"""Evaluation suites. Each takes an EvalContext and returns a SuiteResult."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ProgressFn = Callable[[str, int, int], None]


@dataclass
class SuiteResult:
    suite: str
    metrics: dict[str, float]
    items: list[dict] = field(default_factory=list)  # per question: id, ok, details
    charts: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""

    def to_dict(self) -> dict:
        return {"suite": self.suite, "dataset": self.dataset, "metrics": self.metrics, "items": self.items,
                "charts": self.charts}


@dataclass
class EvalContext:
    """What the suites run against, built by the caller (the CLI wires the real components)."""

    searcher: Any = None
    answerer: Any = None
    classifier: Any = None
    policy: Any = None
    summarizer: Any = None
    conversation_factory: Callable[..., Any] | None = None
    split: str = "all"
    k: int = 5
    progress: ProgressFn | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tick(self, suite: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(suite, done, total)
