"""Run suites, write run.json, gate on thresholds, compare runs."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path

from evals.datasets import datasets_dir
from evals.suites import EvalContext, SuiteResult
from triage.errors import InvalidInputError

SUITES = ("retrieval", "answers", "triage", "summaries", "latency")
DEFAULT_SUITES = ("retrieval", "answers", "triage", "summaries")  # deterministic; "latency" is opt-in


def run_suites(names: list[str], ctx: EvalContext, dataset: Path | None = None) -> dict[str, SuiteResult]:
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise InvalidInputError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    if dataset is not None and len(names) != 1:
        raise InvalidInputError("--dataset applies to one suite at a time; name exactly one suite")
    return {name: import_module(f"evals.suites.{name}").run(ctx, dataset) for name in names}


def run_record(results: dict[str, SuiteResult], config: dict) -> dict:
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "suites": {name: r.to_dict() for name, r in results.items()},
    }


def save_run(record: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "run.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")
    return path


def _jsonable(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def load_run(path: Path) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "run.json"
    if not p.is_file():
        raise InvalidInputError(f"no eval run at {path} (expected a run directory with run.json)")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{p} is not a valid run file ({exc.msg})") from None


# --- gating -------------------------------------------------------------------------------------


@dataclass
class GateFailure:
    suite: str
    metric: str
    value: float | None
    bound: str

    def __str__(self) -> str:
        shown = "unmeasured" if self.value is None else f"{self.value:.4f}"
        return f"{self.suite}.{self.metric} = {shown}, required {self.bound}"


def default_thresholds() -> Path:
    return datasets_dir().parent / "thresholds.toml"


def check_thresholds(record: dict, thresholds: Path) -> list[GateFailure]:
    """Thresholds file: [suite] metric = {min = x} or {max = y}; only suites that ran are gated."""
    try:
        spec = tomllib.loads(Path(thresholds).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"cannot read thresholds {thresholds}: {exc}") from None
    failures = []
    for suite, rules in spec.items():
        if suite not in record["suites"]:
            continue
        got = record["suites"][suite]["metrics"]
        for metric, rule in rules.items():
            value = got.get(metric)
            if value is not None and isinstance(value, float) and math.isnan(value):
                value = None
            if "min" in rule and (value is None or value < rule["min"]):
                failures.append(GateFailure(suite, metric, value, f">= {rule['min']}"))
            if "max" in rule and (value is None or value > rule["max"]):
                failures.append(GateFailure(suite, metric, value, f"<= {rule['max']}"))
    return failures


# --- comparison ---------------------------------------------------------------------------------


def compare_runs(a: dict, b: dict) -> dict:
    deltas, changed = [], []
    for suite in sorted(set(a["suites"]) | set(b["suites"])):
        ma = a["suites"].get(suite, {}).get("metrics", {})
        mb = b["suites"].get(suite, {}).get("metrics", {})
        for metric in sorted(set(ma) | set(mb)):
            va, vb = ma.get(metric), mb.get(metric)
            if isinstance(va, (int, float)) or isinstance(vb, (int, float)):
                delta = (vb - va) if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
                deltas.append({"suite": suite, "metric": metric, "a": va, "b": vb, "delta": delta})
        ia = {i["id"]: i for i in a["suites"].get(suite, {}).get("items", [])}
        ib = {i["id"]: i for i in b["suites"].get(suite, {}).get("items", [])}
        for qid in sorted(set(ia) & set(ib)):
            if ia[qid].get("ok") != ib[qid].get("ok"):
                changed.append({"suite": suite, "id": qid, "a_ok": ia[qid].get("ok"), "b_ok": ib[qid].get("ok"),
                                "question": ib[qid].get("question", "")})
    return {"deltas": deltas, "changed": changed}
