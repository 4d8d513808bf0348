"""LLM-as-judge: faithfulness and relevance, judged several times with the spread reported.

A judge call that fails or returns something unparseable is recorded as unmeasured (None),
never as a zero, so a flaky judge cannot make answers look worse than they are.
"""

from __future__ import annotations

import json
import re
import statistics

import prompts


class Judge:
    def __init__(self, chat_model, runs: int = 3):
        self.chat = chat_model
        self.runs = runs
        self.prompt = prompts.load("judge.system")

    def grade_once(self, question: str, contexts: list[str], answer: str) -> dict | None:
        docs = "\n\n".join(f"[{i}] {c}" for i, c in enumerate(contexts, 1)) or "(none)"
        try:
            raw = self.chat.complete([
                {"role": "system", "content": self.prompt.render()},
                {"role": "user", "content": f"Question:\n<<<\n{question}\n>>>\n\nDocuments:\n<<<\n{docs}\n>>>\n\n"
                                            f"Answer:\n<<<\n{answer}\n>>>"},
            ], max_tokens=60)
        except Exception:
            return None
        m = re.search(r"\{.*?\}", raw or "", re.S)
        try:
            data = json.loads(m.group(0)) if m else None
            f, r = float(data["faithfulness"]), float(data["relevance"])
        except (TypeError, ValueError, KeyError, json.JSONDecodeError):
            return None
        if not (0 <= f <= 1 and 0 <= r <= 1):
            return None
        return {"faithfulness": f, "relevance": r}

    def grade(self, question: str, contexts: list[str], answer: str) -> dict:
        grades = [g for g in (self.grade_once(question, contexts, answer) for _ in range(self.runs)) if g]
        out: dict = {"judge_runs": self.runs, "judge_measured": len(grades)}
        for key in ("faithfulness", "relevance"):
            vals = [g[key] for g in grades]
            out[key] = statistics.mean(vals) if vals else None
            out[f"{key}_spread"] = (max(vals) - min(vals)) if len(vals) > 1 else (0.0 if vals else None)
        return out
