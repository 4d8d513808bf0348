"""Dataset files: JSONL with ragas-compatible columns plus ours.

Every row may carry ``split``: "dev" rows may be used to tune and calibrate; "heldout" rows
never are (see evals/datasets/README*.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from triage.errors import InvalidInputError
from triage.jsonl import iter_jsonl


def datasets_dir() -> Path:
    return Path(str(resources.files("evals") / "datasets"))


def default_dataset(name: str) -> Path:
    return datasets_dir() / name


def load_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"dataset {path} does not exist")
    with path.open(encoding="utf-8") as f:
        rows = [row for _, row in iter_jsonl(f, str(path), required)]
    if not rows:
        raise InvalidInputError(f"dataset {path} has no rows")
    return rows


def refuse_heldout(path: Path) -> Path:
    """Training reads this file: a held-out file is refused (it exists only to measure)."""
    if "heldout" in Path(path).name:
        raise InvalidInputError(f"refusing to train on a held-out file ({path})")
    return Path(path)


def select_split(rows: list[dict], split: str) -> list[dict]:
    if split == "all":
        return rows
    return [r for r in rows if r.get("split", "heldout") == split]


TRAINING_MESSAGES = ("messages_train.jsonl", "messages_train_extra.jsonl")  # labelled messages to train on

# Messages whose intent is a store-policy or order question count as in scope for the scope model;
# "other" (chit-chat, other shops, injection) as out of scope. Greetings, complaints and requests
# for a person are neither: the answerer is not what handles them.
SCOPE_IN_INTENTS = {"order_status", "shipping", "returns", "refund", "cancel_or_change_order", "payment_or_billing_issue",
                    "damaged_or_wrong_item", "product_question", "promotions_and_gift_cards", "account"}


TEXT_UNSEPARABLE_KINDS = {"near_miss"}


def scope_training_rows(path: Path | None = None) -> list[tuple[str, bool]]:
    """(message, in scope) rows to fit the scope model on.

    With ``path``: that JSONL file of ``{"user_input" or "message", "in_scope"}``. Without: the shipped
    ``scope_train.jsonl``, the training messages (by intent) and the dev retrieval questions. The
    answers dataset is left out on purpose: its dev rows calibrate the confidence that reads this
    model's output, and its held-out rows are never trained on.
    """
    if path is not None:
        rows = load_jsonl(refuse_heldout(path), ("in_scope",))
        out = []
        for n, r in enumerate(rows, 1):
            text = r.get("user_input", r.get("message"))
            if not isinstance(text, str) or not isinstance(r["in_scope"], bool):
                raise InvalidInputError(f"{path} row {n}: needs a text 'user_input' (or 'message') and a boolean 'in_scope'")
            out.append((text, r["in_scope"]))
        return out
    # near misses (store questions the documents leave unanswered, in the words of ones they answer)
    # blur the store's vocabulary for a model that reads only the message: they teach confidence instead
    out = [(r["user_input"], bool(r["in_scope"])) for r in load_jsonl(default_dataset("scope_train.jsonl"), ("user_input", "in_scope"))
           if r.get("kind") not in TEXT_UNSEPARABLE_KINDS]
    # messages_train_extra.jsonl is left out: weighted to handoff cases, it made the model no better on dev
    for r in load_jsonl(default_dataset("messages_train.jsonl"), ("message", "intent")):
        if r["intent"] in SCOPE_IN_INTENTS or r["intent"] == "other":
            out.append((r["message"], r["intent"] != "other"))
    out += [(r["user_input"], True) for r in select_split(load_jsonl(default_dataset("retrieval.jsonl"), ("user_input",)), "dev")]
    return out


def router_training_rows(path: Path | None = None) -> list[tuple[str, str]]:
    """(question, document that answers it) rows to fit the source router on.

    With ``path``: a JSONL file of ``{"user_input" (or "question"), "expected_sources": [...]}``; the
    first source is the document the question is about, rows marked ``"split": "heldout"`` and rows
    without sources (out of scope) are skipped. Without: the in-scope practice questions of the shipped
    ``scope_train.jsonl``. The retrieval and answers sets are left out, so their dev splits can tune
    the prior's weight on questions the router has never seen.
    """
    path = refuse_heldout(path) if path is not None else default_dataset("scope_train.jsonl")
    out = []
    for n, r in enumerate(load_jsonl(path), 1):
        if r.get("split") == "heldout" or r.get("in_scope") is False:
            continue
        text, sources = r.get("user_input", r.get("question")), r.get("expected_sources")
        if sources in (None, []):
            continue
        if not isinstance(text, str) or not text.strip() or not isinstance(sources, list) \
                or not all(isinstance(s, str) and s for s in sources):
            raise InvalidInputError(f"{path} row {n}: needs a text 'user_input' (or 'question') and "
                                    "'expected_sources', a list of document names")
        out.append((text, sources[0]))
    if not out:
        raise InvalidInputError(f"{path} has no questions with expected_sources to learn from")
    return out
