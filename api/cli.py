"""The `triage` command line. Stable contracts: ingest | sources | search | ask | classify |
summarize | chat | eval | serve, with the JSONL batch forms written in the issues."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="triage",
    help="AI triage assistant for e-commerce support chat: grounded answers, escalation to humans, evals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


class BatchInputError(Exception):
    pass


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def handled() -> Iterator[None]:
    """Turn our errors into a clear message and a non-zero exit, never a traceback."""
    from knowledge.errors import KnowledgeError
    from triage.errors import TriageError

    try:
        yield
    except (KnowledgeError, TriageError, BatchInputError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def container():
    from api.settings import get_settings
    from api.wiring import Container

    return Container(get_settings())


def read_jsonl(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) from a JSONL batch file; bad lines raise with their number."""
    if str(path) == "-":
        lines = sys.stdin
    else:
        if not path.is_file():
            raise BatchInputError(f"batch file {path} does not exist")
        lines = path.open(encoding="utf-8")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchInputError(f"{path} line {n}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise BatchInputError(f"{path} line {n}: expected a JSON object")
        missing = [k for k in required if k not in obj]
        if missing:
            raise BatchInputError(f"{path} line {n}: missing field(s) {', '.join(missing)}")
        yield n, obj


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# --- knowledge base ---------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Files and folders (.md .txt .html .pdf .json .jsonl .csv).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove indexed sources no longer present.")] = False,
    sample: Annotated[bool, typer.Option("--sample", help="Ingest the bundled demo store.")] = False,
) -> None:
    """Index documents incrementally: unchanged files are skipped, changed ones replaced."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from api.wiring import display_path, sample_store_dir

    paths = list(paths or [])
    if sample:
        paths.append(display_path(sample_store_dir()))
    if not paths:
        raise fail("give at least one file or folder to ingest (or --sample for the demo store)", 2)
    with handled():
        c = container()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage.capitalize(), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = c.ingestor.ingest(paths, prune=prune, progress=progress)
    for e in report.failed:
        err.print(f"[red]failed[/] {e}", highlight=False)
    err.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)} ({report.chunks_embedded} chunks embedded)"
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def sources(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """List the indexed sources."""
    with handled():
        c = container()
        items = sorted(c.index.catalog.sources().values(), key=lambda s: s.source)
    if as_json:
        for s in items:
            emit({"source": s.source, "title": s.title, "chunks": s.n_chunks, "content_hash": s.content_hash,
                  "ingested_at": s.ingested_at})
        return
    if not items:
        err.print("Nothing indexed yet: run `triage ingest PATH...` (or `triage ingest --sample`).")
        return
    table = Table("source", "title", "chunks", "ingested at")
    for s in items:
        table.add_row(s.source, s.title, str(s.n_chunks), s.ingested_at)
    out.print(table)


@app.command()
def search(
    query: Annotated[Optional[str], typer.Argument(help="What the customer asked.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many results.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    batch: Annotated[Optional[Path], typer.Option("--batch", help='JSONL file of {"id", "query"}; "-" for stdin.')] = None,
) -> None:
    """Hybrid (dense + BM25) search of the knowledge base."""
    if (query is None) == (batch is None):
        raise fail('give either a QUERY or --batch FILE (e.g. triage search "return window")', 2)
    with handled():
        searcher = container().searcher
        if batch is not None:
            for _, obj in read_jsonl(batch, ("id", "query")):
                hits = searcher.search(str(obj["query"]), k)
                emit({"id": obj["id"], "results": [h.public() for h in hits]})
            return
        if not query.strip():
            raise BatchInputError("the query is empty")
        hits = searcher.search(query, k)
    if as_json:
        emit({"query": query, "results": [h.public() for h in hits]})
        return
    table = Table("#", "score", "source", "section", "text", show_lines=True)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.3f}", h.source, h.section or h.title, h.text[:300])
    out.print(table)


# --- answers ----------------------------------------------------------------------------------


@app.command()
def ask(
    question: Annotated[Optional[str], typer.Argument(help="The customer's question.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    batch: Annotated[Optional[Path], typer.Option("--batch", help='JSONL file of {"id", "question"}; "-" for stdin.')] = None,
) -> None:
    """Answer a policy question from the knowledge base, with citations and a confidence."""
    if (question is None) == (batch is None):
        raise fail('give either a QUESTION or --batch FILE (e.g. triage ask "can I return socks?")', 2)
    with handled():
        answerer = container().answerer
        if batch is not None:
            for _, obj in read_jsonl(batch, ("id", "question")):
                emit({"id": obj["id"], **answerer.answer(str(obj["question"])).public()})
            return
        if not question.strip():
            raise BatchInputError("the question is empty")
        ans = answerer.answer(question)
    if as_json:
        emit(ans.public())
        return
    out.print(ans.text, highlight=False)
    for i, cit in enumerate(ans.citations, 1):
        out.print(f"  [{i}] {cit.title} ({cit.source})", style="dim", highlight=False)
    out.print(f"confidence {ans.confidence:.2f}{' (abstained)' if ans.abstained else ''}", style="dim")


train_app = typer.Typer(help="Refit the shipped models on your own data.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("confidence")
def train_confidence(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="answers JSONL (default: the sample store's).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default DATA_DIR/models/confidence.json).")] = None,
    isotonic: Annotated[bool, typer.Option("--isotonic/--no-isotonic", help="Isotonic step after Platt scaling.")] = False,
) -> None:
    """Calibrate answer confidence on the dev split of an answers dataset (held-out rows never used)."""
    with handled():
        from evals.datasets import default_dataset, load_jsonl, select_split
        from evals.metrics import source_matches
        from triage.confidence import fit

        c = container()
        c.ensure_sample_store()
        rows = select_split(load_jsonl(dataset or default_dataset("answers.jsonl"), ("user_input",)), "dev")
        answerer = c.extractive
        feats, correct, scope = [], [], []
        for row in rows:
            hits = answerer.searcher.search(row["user_input"], answerer.k)
            sel = answerer.select(row["user_input"], hits)
            feats.append(answerer.confidence.features(row["user_input"], hits, sel, answerer.question_terms(row["user_input"])))
            top = hits[sel.sentences[0][1]].source if sel.sentences else ""
            in_scope = bool(row.get("in_scope", True))
            scope.append(in_scope)
            correct.append(in_scope and any(source_matches(top, e) for e in row.get("expected_sources", [])))
        model = fit(feats, correct, scope, isotonic=isotonic)
        model.report = {"dev_rows": len(rows), "positives": sum(correct), "threshold": model.threshold}
        target = out_file or (c.models_dir / "confidence.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(model.to_json() + "\n", encoding="utf-8")
    err.print(f"fitted on {len(rows)} dev rows ({sum(correct)} right answers); threshold {model.threshold:.3f}; wrote {target}")


# --- evals ------------------------------------------------------------------------------------


@app.command("eval")
def eval_(
    suites: Annotated[Optional[list[str]], typer.Argument(help="Suites: retrieval answers triage summaries latency; or `compare RUN_A RUN_B`.")] = None,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="JSONL dataset (with exactly one suite).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Directory for run.json and report.html.")] = None,
    split: Annotated[str, typer.Option("--split", help="dev | heldout | all")] = "all",
    thresholds: Annotated[Optional[Path], typer.Option("--thresholds", help="Gate file (default evals/thresholds.toml).")] = None,
    no_gate: Annotated[bool, typer.Option("--no-gate", help="Report only; never fail on thresholds.")] = False,
    llm_judge: Annotated[bool, typer.Option("--llm-judge", help="Add LLM-judged faithfulness/relevance (needs an LLM).")] = False,
) -> None:
    """Run evaluation suites; print a table, write JSON (and HTML), exit 1 when a gate is missed."""
    from evals import runner

    names = list(suites or [])
    if names[:1] == ["compare"]:
        if len(names) != 3:
            raise fail("usage: triage eval compare RUN_A RUN_B", 2)
        with handled():
            _print_compare(runner.compare_runs(runner.load_run(Path(names[1])), runner.load_run(Path(names[2]))))
        return
    if split not in ("dev", "heldout", "all"):
        raise fail("--split must be dev, heldout or all", 2)
    names = names or list(runner.DEFAULT_SUITES)
    with handled():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from evals.suites import EvalContext

        c = container()
        ctx = EvalContext(split=split)
        _wire_eval_context(c, ctx, names, llm_judge)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            ctx.progress = progress
            results = runner.run_suites(names, ctx, dataset)
        record = runner.run_record(results, {"split": split, "suites": names, "data_dir": str(c.settings.data_dir),
                                             "llm": c.settings.llm_enabled, "embedder": c.embedder.model_id})
        out_dir = out_dir or (c.settings.data_dir / "evals" / record["created_at"].replace(":", "-"))
        run_path = runner.save_run(record, out_dir)
        _print_metrics(record)
        try:
            from evals.report import write_html

            html = write_html(record, out_dir)
            err.print(f"report: {html}")
        except ImportError:
            pass
        err.print(f"run: {run_path}")
        if no_gate:
            return
        failures = runner.check_thresholds(record, thresholds or runner.default_thresholds())
    if failures:
        for f in failures:
            err.print(f"[bold red]gate failed:[/] {f}", highlight=False)
        raise typer.Exit(1)


def _wire_eval_context(c, ctx, names: list[str], llm_judge: bool) -> None:
    if {"retrieval", "answers", "latency"} & set(names):
        c.ensure_sample_store()
        ctx.searcher = c.searcher


def _print_metrics(record: dict) -> None:
    for name, suite in record["suites"].items():
        table = Table("metric", "value", title=f"{name} ({suite['dataset']})", title_justify="left")
        for metric, value in suite["metrics"].items():
            if isinstance(value, float):
                table.add_row(metric, f"{value:.4f}")
            elif isinstance(value, (int, str)):
                table.add_row(metric, str(value))
        out.print(table)


def _print_compare(diff: dict) -> None:
    table = Table("suite", "metric", "A", "B", "delta")
    for d in diff["deltas"]:
        fmt = lambda v: "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
        delta = d["delta"]
        style = "" if not delta else ("green" if delta > 0 else "red")
        table.add_row(d["suite"], d["metric"], fmt(d["a"]), fmt(d["b"]), f"[{style}]{fmt(delta)}[/]" if style else fmt(delta))
    out.print(table)
    if diff["changed"]:
        ch = Table("suite", "id", "A", "B", "question", title="questions whose outcome changed", title_justify="left")
        for c in diff["changed"]:
            ch.add_row(c["suite"], c["id"], "pass" if c["a_ok"] else "fail", "pass" if c["b_ok"] else "fail", c["question"][:70])
        out.print(ch)
    else:
        out.print("no question changed outcome")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
