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

from triage.errors import InvalidInputError, TriageError

app = typer.Typer(
    name="triage",
    help="AI triage assistant for e-commerce support chat: grounded answers, escalation to humans, evals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)  # messages are never broken mid-line
out = Console()


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
    except (KnowledgeError, TriageError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def container():
    from api.settings import get_settings
    from api.wiring import Container

    return Container(get_settings())


def read_jsonl(path: Path, required: tuple[str, ...], text: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) from a JSONL batch file or stdin ("-"); bad lines raise with their number."""
    from triage.jsonl import iter_jsonl

    if str(path) == "-":
        yield from iter_jsonl(sys.stdin, "stdin", required, text)
        return
    if not path.is_file():
        raise InvalidInputError(f"batch file {path} does not exist")
    with path.open(encoding="utf-8") as f:
        yield from iter_jsonl(f, str(path), required, text)


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
    if report.added and c.settings.source_prior_weight != 0:
        _hint_router(c)
    if not report.ok:
        raise typer.Exit(1)


def _hint_router(c) -> None:
    """New documents: say when the source router no longer knows the index (search then runs without it)."""
    from knowledge.retriever import source_key

    try:
        sources = {s.source for s in c.index.catalog.sources().values()}
        router = c.router
    except TriageError:
        return
    unknown = sorted({source_key(s) for s in sources} - router.sources)
    if unknown:
        err.print(f"[yellow]note:[/yellow] the source router was trained without {', '.join(unknown[:3])}"
                  f"{' ...' if len(unknown) > 3 else ''}; search runs without it until you run `triage train router` "
                  "with labelled questions (then `triage train scope` and `triage train confidence`)")


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
            for _, obj in read_jsonl(batch, ("id", "query"), text=("query",)):
                hits = searcher.search(str(obj["query"]), k)
                emit({"id": obj["id"], "results": [h.public() for h in hits]})
            return
        if not query.strip():
            raise InvalidInputError("the query is empty")
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
            for _, obj in read_jsonl(batch, ("id", "question"), text=("question",)):
                emit({"id": obj["id"], **answerer.answer(str(obj["question"])).public()})
            return
        if not question.strip():
            raise InvalidInputError("the question is empty")
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
    extra: Annotated[Optional[Path], typer.Option("--extra", help='Practice questions calibrated on too: JSONL of {"user_input", "in_scope", "expected_sources"} (default with the sample store: scope_train.jsonl).')] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default DATA_DIR/models/confidence.json).")] = None,
    isotonic: Annotated[bool, typer.Option("--isotonic/--no-isotonic", help="Isotonic instead of Platt for the final calibration.")] = False,
) -> None:
    """Calibrate answer confidence on the dev split of an answers dataset (held-out rows never used)."""
    with handled():
        from evals.datasets import default_dataset, load_jsonl, refuse_heldout, select_split
        from triage.confidence import fit

        c = container()
        c.ensure_sample_store()
        rows = select_split(load_jsonl(dataset or default_dataset("answers.jsonl"), ("user_input",)), "dev")
        extra_path = extra or (None if dataset else default_dataset("scope_train.jsonl"))
        practice = load_jsonl(refuse_heldout(extra_path), ("user_input", "in_scope")) if extra_path else []
        with err.status(f"Answering {len(rows) + len(practice)} questions..."):
            feats, correct, scope = confidence_training_rows(c, rows, practice)
        # the factors and the threshold learn from all questions; the final calibration from the dev
        # questions alone, which read most like the store's customers
        model = fit(feats, correct, scope, isotonic=isotonic, calibrate=[True] * len(rows) + [False] * len(practice))
        model.report = {"dev_rows": len(rows), "extra_rows": len(practice), "positives": sum(correct),
                        "threshold": model.threshold}
        target = out_file or (c.models_dir / "confidence.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(model.to_json() + "\n", encoding="utf-8")
    err.print(f"fitted on {len(rows)} dev rows and {len(practice)} practice questions ({sum(correct)} right answers); "
              f"threshold {model.threshold:.3f}; wrote {target}")


def confidence_training_rows(c, dev: list[dict], practice: list[dict]) -> tuple[list[dict], list[bool], list[bool]]:
    """_confidence_rows of the dev questions then the practice ones, each practice question read by
    the router and the scope model out of fold: both learnt from those questions."""
    if c.searcher.prior is not None:
        c.searcher.prior.out_of_fold = True
    feats, correct, scope = _confidence_rows(c.extractive, dev + practice)
    out_of_fold = c.scope_model.fitted.get("out_of_fold", {})
    for f, row in zip(feats[len(dev):], practice):
        f["in_scope"] = out_of_fold.get(row["user_input"], f["in_scope"])
    return feats, correct, scope


def _confidence_rows(answerer, rows: list[dict]) -> tuple[list[dict], list[bool], list[bool]]:
    """Features of each question's would-be answer, whether its first source is right, whether in scope."""
    from evals.metrics import source_matches

    feats, correct, scope = [], [], []
    for row in rows:
        hits, sel, f = answerer.analyze(row["user_input"])
        feats.append(f)
        top = hits[sel.sentences[0][1]].source if sel.sentences else ""
        in_scope = bool(row.get("in_scope", True))
        scope.append(in_scope)
        correct.append(in_scope and any(source_matches(top, e) for e in row.get("expected_sources", [])))
    return feats, correct, scope


# --- triage -----------------------------------------------------------------------------------


@app.command()
def classify(
    batch: Annotated[Path, typer.Option("--batch", help='JSONL file of {"id", "message"}; "-" for stdin.')],
) -> None:
    """Classify messages (intent, sentiment, frustration) and decide handoff, as first messages in hours."""
    with handled():
        c = container()
        rows = [obj for _, obj in read_jsonl(batch, ("id", "message"), text=("message",))]
        texts = [str(r["message"]) for r in rows]
        results = []
        for start in range(0, len(texts), 256):  # the model loads once; messages embed in batches
            results.extend(c.classifier.classify_many(texts[start:start + 256]))
        from triage.assistant import first_message_facts

        for row, text, cls in zip(rows, texts, results):
            decision = c.policy.decide(first_message_facts(cls, text, c.orders))
            emit({"id": row["id"], **cls.public(), "handoff": decision.handoff,
                  "reasons": [r.public() for r in decision.reasons], "priority": decision.priority})


@app.command()
def summarize(
    batch: Annotated[Path, typer.Option("--batch", help='JSONL of {"id", "turns": [{"speaker", "text"}]}; "-" for stdin.')],
) -> None:
    """Write handoff summaries for transcripts."""
    with handled():
        from triage.summary import LLMSummarizer, summarize_transcript

        c = container()
        llm = LLMSummarizer(c.chat_model) if c.settings.llm_enabled else None
        for n, row in read_jsonl(batch, ("id", "turns")):
            summary = summarize_transcript(row["turns"], c.classifier, c.policy, c.orders, llm, where=f"{batch} line {n}")
            emit({"id": row["id"], **summary.public()})


@app.command()
def chat(
    now: Annotated[Optional[str], typer.Option("--now", help="Pretend it is this time (ISO 8601 with offset), e.g. to try out-of-hours.")] = None,
    vip: Annotated[bool, typer.Option("--vip", help="Chat as a VIP customer.")] = False,
) -> None:
    """Talk to the assistant for the sample store; every decision is shown with its reasons.

    Commands: /human (the talk-to-a-human button), /agent NAME (take over as an agent), /say TEXT
    (reply as the agent), /resolve, /summary, /state, /new, /quit.
    """
    from datetime import datetime

    from triage.clock import FixedClock, SystemClock

    with handled():
        clock = SystemClock()
        if now:
            try:
                at = datetime.fromisoformat(now)
                clock = FixedClock(at)
            except ValueError:
                raise InvalidInputError(f"--now '{now}' is not an ISO 8601 time with an offset (e.g. 2026-11-24T10:00-05:00)") from None
        c = container()
        with err.status("Loading the knowledge base and models..."):
            c.ensure_sample_store()
            c.ensure_sample_orders()
            assistant = c.assistant(clock=clock)
            assistant.classifier.classify("hello")  # load the model before the first message
        _chat_loop(assistant, {"vip": vip})


def _chat_loop(assistant, customer: dict) -> None:
    import itertools

    store = assistant.policy.config.store.get("name", "the store")
    out.print(f"[bold]{store}[/] support chat. Type a message; /human for a person, /quit to leave.", highlight=False)
    counter = itertools.count(1)
    conv_id = f"cli-{next(counter)}"
    agent = None
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        try:
            if line == "/new":
                conv_id, agent = f"cli-{next(counter)}", None
                out.print("(new conversation)")
                continue
            if line == "/state":
                conv = assistant.store.get(conv_id)
                out.print(f"(state: {conv.state.value if conv else 'bot'}, strikes: {conv.strikes if conv else 0})")
                continue
            if line == "/summary":
                conv = assistant.store.get(conv_id)
                out.print((conv and conv.summary and conv.summary["summary"]) or "(no handoff yet)", highlight=False)
                continue
            if line.startswith("/agent"):
                agent = line.split(maxsplit=1)[1] if " " in line else "Agent"
                conv = assistant.take_over(conv_id, agent)
                out.print(f"[magenta]({agent} took over; the bot is silent now)[/]")
                continue
            if line.startswith("/say "):
                assistant.agent_reply(conv_id, agent or "Agent", line[5:])
                out.print(f"[magenta]{agent or 'Agent'}>[/] {line[5:]}", highlight=False)
                continue
            if line == "/resolve":
                assistant.resolve(conv_id)
                out.print("[magenta](resolved; the bot will answer the next message)[/]")
                continue
        except Exception as exc:  # illegal moves etc. are shown, the chat goes on
            out.print(f"[red]{exc}[/]", highlight=False)
            continue
        result = assistant.handle(conv_id, line, button=line == "/human", customer=customer)
        if result.reply is None:
            out.print("[dim](a person has this chat; the bot stays silent and your message went to the agent)[/]")
            continue
        out.print(f"[green]bot>[/] {result.reply}", highlight=False)
        if result.answer is not None and result.answer.citations:
            for i, cit in enumerate(result.answer.citations, 1):
                out.print(f"      [dim][{i}] {cit.title} ({cit.source})[/]", highlight=False)
        d, cls = result.decision, result.classification
        reasons = "; ".join(f"{r.code}: {r.detail}" for r in d.reasons) or "none"
        conf = f", confidence {result.answer.confidence:.2f}" if result.answer is not None else ""
        out.print(f"      [dim]intent {cls.intent}, sentiment {cls.sentiment} ({cls.sentiment_score:+.2f}), "
                  f"frustration {cls.frustration:.2f}{conf} -> handoff {'YES' if d.handoff else 'no'} "
                  f"(priority {d.priority}; reasons: {reasons}) [state {result.state.value}][/]", highlight=False)
        if result.summary:
            out.print(f"      [yellow]handoff summary:[/] {result.summary.paragraph}", highlight=False)
        if result.ticket:
            out.print(f"      [yellow]ticket {result.ticket.id} created[/]")


orders_app = typer.Typer(help="The order source used for order-status questions.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


@orders_app.command("import")
def orders_import(csv_file: Annotated[Path, typer.Argument(help="CSV with order_number,email,zip,status,... columns.")]) -> None:
    """Import (upsert) orders from a CSV file; a bad row aborts the import and names its line."""
    with handled():
        n = container().orders.import_csv(csv_file)
    err.print(f"imported {n} orders")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Run the service: customer chat API, agent API, live events (the sample store is indexed on first start)."""
    import uvicorn

    from api.settings import get_settings

    with handled():
        s = get_settings()
        if workers > 1 and not s.events_url:
            err.print("[yellow]several workers without TRIAGE_EVENTS_URL: live events reach other workers' "
                      f"clients only at each keep-alive ({s.sse_keepalive:g}s); set redis://... or postgresql://...[/]")
        from api.db import default_url
        from api.db.store import SqlStore

        SqlStore(s.database_url or default_url(s.data_dir)).close()  # migrate once, before the workers start
        err.print(f"triage service on http://{host}:{port} (docs: /docs, API: /openapi.json)")
    uvicorn.run("api.http.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info", timeout_graceful_shutdown=5)


agents_app = typer.Typer(help="Agents who take over chats in the service.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")


@agents_app.command("add")
def agents_add(
    name: Annotated[str, typer.Argument(help="The agent's display name (shown to customers).")],
    admin: Annotated[bool, typer.Option("--admin", help="May upload and delete documents and read the policy.")] = False,
) -> None:
    """Create an agent and print their key once (only its hash is stored)."""
    from api.service import add_agent

    with handled():
        key = add_agent(container().store, name, admin)
    err.print(f"agent {name!r} created{' (admin)' if admin else ''}; the key is shown only now:")
    print(key)


@train_app.command("scope")
def train_scope(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help='JSONL of {"user_input", "in_scope"} (default: the shipped scope, message and dev retrieval sets).')] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default DATA_DIR/models/scope.joblib).")] = None,
) -> None:
    """Fit the in-scope model (is a message about the store's documents?); run `train confidence` after it.

    The knowledge base's own FAQ questions and section headings are added as in-scope examples.
    """
    import joblib

    with handled():
        from evals.datasets import scope_training_rows
        from triage.scope import companies_not_in, cross_validated, fit, knowledge_base_phrases

        rows = scope_training_rows(dataset)
        c = container()
        c.ensure_sample_store()
        rows += [(t, True) for t in knowledge_base_phrases(c.index.chunks.values())]
        texts, labels = [t for t, _ in rows], [y for _, y in rows]
        # other businesses: the gazetteer's names that the store's own documents never mention
        companies = companies_not_in("\n".join(ch.text for ch in c.index.chunks.values()))
        with err.status(f"Embedding {len(rows)} messages and fitting..."):
            # the vectors search computes at run time: of the typo-repaired message
            vectors = c.local_embedder.embed_documents([c.searcher.dense_query(t) for t in texts])
            oof = cross_validated(texts, labels, vectors, companies=companies)
            fitted = fit(texts, labels, vectors, companies=companies)
        right = sum((p >= 0.5) == y for p, y in zip(oof, labels))
        fitted["cv_accuracy"] = right / len(rows)
        # what the model says of its own training messages when it has not seen them: `train
        # confidence` calibrates on these messages too, and must not read in-sample probabilities
        fitted["out_of_fold"] = {t: float(p) for t, p in zip(texts, oof)}
        target = out_file or (c.models_dir / "scope.joblib")
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fitted, target, compress=3)
    err.print(f"fitted on {len(rows)} messages ({sum(labels)} in scope); 5-fold accuracy {right / len(rows):.3f}; wrote {target}")


@train_app.command("router")
def train_router(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help='JSONL of {"user_input", "expected_sources": [...]} (default: the shipped practice questions).')] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default DATA_DIR/models/router.joblib).")] = None,
) -> None:
    """Fit the source router (which document is a question about?); run `train confidence` after it.

    Each question is labelled with the first of its expected sources. The knowledge base's own FAQ
    questions and section headings are added, labelled with their document, so every document has
    examples. Search uses the router only while it knows every document in the index.
    """
    import joblib

    with handled():
        from evals.datasets import router_training_rows
        from knowledge.retriever import source_key
        from triage.routing import cross_validated, fit
        from triage.scope import knowledge_base_phrases

        rows = router_training_rows(dataset)
        c = container()
        c.ensure_sample_store()
        by_source: dict[str, list] = {}
        for chunk in c.index.chunks.values():
            by_source.setdefault(chunk.source, []).append(chunk)
        indexed = {source_key(s) for s in by_source}
        unknown = sorted({source_key(s) for _, s in rows} - indexed)
        if unknown:
            raise InvalidInputError(f"questions name documents that are not in the index: {', '.join(unknown[:5])}"
                                    f"{' ...' if len(unknown) > 5 else ''}; ingest them first or fix expected_sources")
        rows += [(t, source) for source, chunks in by_source.items() for t in knowledge_base_phrases(chunks)]
        texts, sources = [t for t, _ in rows], [s for _, s in rows]
        with err.status(f"Embedding {len(rows)} questions and fitting..."):
            # the vectors search computes at run time: of the typo-repaired message
            vectors = c.local_embedder.embed_documents([c.searcher.dense_query(t) for t in texts])
            oof = cross_validated(texts, sources, vectors)
            fitted = fit(texts, sources, vectors)
        accuracy = sum(bool(p) and max(p, key=p.get) == source_key(s) for p, s in zip(oof, sources)) / len(rows)
        fitted["cv_accuracy"] = accuracy
        # `train confidence` reads these for the router's own training questions (see SourceRouter.out_of_fold)
        fitted["out_of_fold"] = {t: {k: round(v, 5) for k, v in p.items()} for t, p in zip(texts, oof)}
        target = out_file or (c.models_dir / "router.joblib")
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fitted, target, compress=3)
    missing = sorted(indexed - set(fitted["head"].classes_))
    err.print(f"fitted on {len(rows)} questions about {len(fitted['head'].classes_)} documents; "
              f"5-fold top-1 accuracy {accuracy:.3f}; wrote {target}")
    if missing:
        err.print(f"[yellow]no examples for {', '.join(missing)}: search will not use the router until it knows every document[/yellow]")


@train_app.command("classifier")
def train_classifier(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Labelled messages JSONL (default: the shipped training sets).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default DATA_DIR/models/classifier.joblib).")] = None,
) -> None:
    """Fit the message classifier (never on the held-out file)."""
    import joblib

    with handled():
        from evals.datasets import TRAINING_MESSAGES, default_dataset, load_jsonl, refuse_heldout
        from triage.classifier import fit

        required = ("message", "intent", "sentiment", "frustrated", "human_request")
        paths = [refuse_heldout(dataset)] if dataset else [default_dataset(n) for n in TRAINING_MESSAGES]
        rows = [row for path in paths for row in load_jsonl(path, required)]
        c = container()
        with err.status(f"Embedding {len(rows)} messages and fitting..."):
            vectors = c.local_embedder.embed_documents([r["message"] for r in rows])
            fitted = fit(rows, vectors)
        target = out_file or (c.models_dir / "classifier.joblib")
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fitted, target, compress=3)
    err.print(f"fitted on {len(rows)} messages; wrote {target}")


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
    price_prompt: Annotated[float, typer.Option("--price-prompt", min=0, help="USD per 1M prompt tokens, for cost per answer.")] = 0.15,
    price_completion: Annotated[float, typer.Option("--price-completion", min=0, help="USD per 1M completion tokens.")] = 0.60,
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
        ctx.extra.update(price_prompt=price_prompt, price_completion=price_completion)
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
    if llm_judge:
        if not c.settings.llm_enabled:
            raise InvalidInputError("--llm-judge needs an LLM: set OPENAI_API_KEY or TRIAGE_LLM_BASE_URL")
        from evals.judge import Judge

        ctx.extra["judge"] = Judge(c.chat_model)
    if {"retrieval", "answers", "latency"} & set(names):
        c.ensure_sample_store()
        ctx.searcher = c.searcher
        ctx.answerer = c.answerer
        ctx.extra["embedder"] = c.embedder
    if {"triage", "summaries"} & set(names):
        ctx.classifier, ctx.policy = c.classifier, c.policy
        ctx.extra["orders"] = c.orders
        if c.settings.llm_enabled:
            from triage.summary import LLMSummarizer

            ctx.summarizer = LLMSummarizer(c.chat_model)
    if {"triage", "latency"} & set(names):
        ctx.classifier, ctx.policy = c.classifier, c.policy
        c.ensure_sample_store()
        c.ensure_sample_orders()
        ctx.conversation_factory = lambda clock, store: c.assistant(clock=clock, store=store, log_decisions=False)


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
