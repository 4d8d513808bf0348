"""Answers grounded in the store's documents, with numbered citations and a confidence.

Offline (default) the answer is extractive: the sentences of the retrieved chunks that best
cover the question, copied verbatim, each followed by its citation marker. Nothing is composed
that the documents do not say. Below the confidence threshold the assistant abstains and offers a
person; that abstention is what the escalation policy counts as a strike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import prompts
from knowledge.text import STOPWORDS, stem, tokenize

ABSTAIN_TEXT = prompts.load("no_answer").text.strip()
OUT_OF_SCOPE_TEXT = prompts.load("out_of_scope").text.strip()  # abstaining because the question is not about the store
MAX_ANSWER_SENTENCES = 3
# The top three chunks compete for the answer; a lower-ranked chunk's sentences lose RANK_PENALTY per
# rank and GAP_PENALTY per point of score below the best chunk (chosen on the dev questions)
RANK_PENALTY = 0.05
GAP_PENALTY = 3.0
MAX_ANSWER_WORDS = 90


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    chunk_id: str
    title: str
    section: str = ""

    def public(self) -> dict:
        return {"source": self.source, "chunk_id": self.chunk_id, "title": self.title}


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    confidence: float
    abstained: bool
    mode: str = "extractive"  # extractive | llm | fallback | order | abstain
    sentences: list[tuple[str, list[int]]] = field(default_factory=list)  # (sentence, citation numbers)
    features: dict[str, float] = field(default_factory=dict)
    note: str = ""  # why a fallback happened, for logs
    candidate_source: str = ""  # the source the answer would have cited first (what confidence is about)
    prompt_tokens: int = 0  # LLM usage (tiktoken count), 0 offline
    completion_tokens: int = 0

    def public(self) -> dict:
        """The stable JSON shape of `triage ask`."""
        return {"answer": self.text, "citations": [c.public() for c in self.citations],
                "confidence": round(self.confidence, 4), "abstained": self.abstained}


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> list: ...


# --- sentences --------------------------------------------------------------------------------

_ABBREV = re.compile(r"\b(e\.g|i\.e|etc|approx|no|vs|st|mr|mrs|ms|dr|u\.s|a\.m|p\.m)\.$", re.I)


_MARKED_END = re.compile(r"([.!?])((?:\s*\[\d+\])+)\s+(?=[A-Z0-9\"'(])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a chunk; bullet and table lines count as sentences of their own."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        line = re.sub(r"^(?:[-*\u2022]\s+|\d+[.)]\s+)", "", line)
        if re.match(r"^[QA]:\s", line):
            line = line[3:]
        # "...items. [1] Holiday..." ends a sentence too: citation markers may follow its full stop
        line = _MARKED_END.sub(lambda m: f"{m.group(1)}{m.group(2)}\x00", line)
        parts = [p for piece in line.split("\x00") for p in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", piece.strip())]
        buf = ""
        for part in parts:
            buf = f"{buf} {part}".strip() if buf else part
            if _ABBREV.search(buf):
                continue
            out.append(buf)
            buf = ""
        if buf:
            out.append(buf)
    return [s for s in out if len(s) > 2]


# What kind of answer a question wants, and what a sentence that gives it contains. "how much" and
# "how long" are dropped from the question's terms (they frame it), so this puts them back as a type.
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
ANSWER_TYPES: tuple[tuple[re.Pattern, re.Pattern], ...] = (
    (re.compile(r"\bhow much\b|\bcost\b|\bprice\b|\bfees?\b|\bcharged?\b|\bget back\b|\bpay for\b", re.I),
     re.compile(r"\$\s?\d|\b\d+\s?%|\bfree\b|\bno charge\b|\bat no cost\b", re.I)),
    (re.compile(r"\bhow (long|soon|many days|quickly|fast)\b|\bwhen\b|\bdeadline\b|\blast day\b|\bwhat time\b|\bby when\b"
                r"|\bhow late\b|\bhow early\b", re.I),
     re.compile(r"\b\d+(\s?-\s?\d+)?\s?(business |working |calendar )?(days?|weeks?|months?|years?|hours?|minutes?)\b"
                r"|\b\d{1,2}(:\d{2})?\s?(am|pm)\b|\b(" + _MONTHS + r")\b|\bsame (business )?day\b|\bnext business day\b"
                r"|\bwithin\b|\bimmediately\b|\binstantly\b", re.I)),
)
ANSWER_TYPE_BONUS = 0.15
# Sentences about the page rather than the policy ("This page explains...", "see our X page") answer nothing.
META = re.compile(r"\b(this page|on this page|see our|here's what|here is what|as follows|read on)\b", re.I)
META_PENALTY = 0.1


def answer_type_bonus(question: str, sentence: str) -> float:
    return ANSWER_TYPE_BONUS if any(q.search(question) and a.search(sentence) for q, a in ANSWER_TYPES) else 0.0


_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+?)\s*$")


def list_items(text: str) -> set[str]:
    """The bullet and numbered lines of a chunk, as split_sentences returns them."""
    return {m.group(1) for line in text.splitlines() if (m := _LIST_ITEM.match(line))}


# Markup that pretends to close the documents or open a new turn: "</context>", "<|im_start|>system",
# "[SYSTEM]", "### Instruction:", "assistant:" at the start of a line. Customers don't type these.
DELIMITER = (
    r"</?\s*(context|system|instructions?|prompt|documents?|sources?|knowledge|assistant|user|admin|developer)\b[^<>]{0,30}>"
    r"|<\|\s*\w+\s*\|>|\[/?\s*(system|inst|admin|developer|assistant)\s*\]"
    r"|(^|\n)\s*#{2,}\s*(system|instructions?|new instructions?|admin|developer|assistant)\b"
    r"|(^|\n)\s*(system|assistant|developer)\s*:"
    r"|\b(begin|end|start)\s+(of\s+)?(system|admin|developer)\s+(override|prompt|message|instructions?|mode)\b"
)

def question_sentences(text: str) -> set[str]:
    """The sentences of a chunk's FAQ question lines ("Q: My jacket leaks. Is it broken?"): the
    customer's words, never an answer, even where a part of them does not end in "?"."""
    return {s for line in text.splitlines() if re.match(r"^\s*Q:\s", line) for s in split_sentences(line)}


# Text in a document that talks to the assistant is data, never an instruction: never quote it.
INJECTION = re.compile(
    DELIMITER + r"|\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules?|guidelines)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bas an ai\b|\bnew instructions?\b|\bjailbreak\b"
    r"|\b(assistant|chatbot|bot|ai)\b.{0,30}\b(must|should|will)\b.{0,30}\b(say|tell|reply|respond|answer)\b",
    re.I,
)


# A customer message that tries to steer the assistant rather than ask about the store: role-play,
# "developer mode", asking for the system prompt, "ignore your rules". Declined whatever retrieval finds.
MANIPULATION = re.compile(
    r"\b(pretend|act|behave|roleplay|role-play|role play)\b.{0,20}\b(you'?re|you are|to be|as|like)\b"
    r"|\b(you are|you're) (now|no longer)\b|\bfrom now on\b.{0,30}\b(you|reply|answer|respond|always)\b"
    r"|\b(reveal|print|show|repeat|output|tell me|give me|paste|dump|leak)\b.{0,30}\b(system|hidden|initial|internal|secret)\b"
    r".{0,15}\b(prompt|instructions?|rules|message|config\w*)\b"
    r"|\b(developer|dev|god|admin|debug|sudo|dan) mode\b|\bjailbreak\w*\b|\bprompt injection\b"
    r"|\b(ignore|disregard|forget|bypass|override)\b.{0,30}\b(instructions?|prompts?|rules|guidelines|polic(y|ies)|"
    r"restrictions|filters?|safety)\b",
    re.I,
)


# Asking for other customers' data ("the phone number of the customer on order JP-10234", "every
# customer's email"): declined whatever the documents say. A customer's own order goes through the
# order lookup, which checks their email or zip first.
OTHERS_DATA = re.compile(
    r"\b(address|phone(\s+number)?|number|e-?mails?|name|details|info(rmation)?|contact)\b.{0,30}\b(of|for|on|from)\s+"
    r"(the|another|other|that|this|a|some)\s+(customer|person|buyer|user|shopper|account holder|guy|lady|woman|man)s?\b"
    r"|\b(all|other|your)\s+(customer|user|shopper|buyer)s'?\s+(orders|e-?mails|addresses|names|phone numbers|data|details|"
    r"info\w*|accounts|list|database)\b|\bevery (customer|user|shopper|buyer)'?s?\s+(e-?mail|address|phone|name|order|data)"
    r"|\bcustomer (list|database|emails|data)\b|\bwhose order\b",
    re.I,
)


def looks_like_instruction(text: str) -> bool:
    return bool(INJECTION.search(text))


def looks_like_manipulation(text: str) -> bool:
    return bool(INJECTION.search(text) or MANIPULATION.search(text) or OTHERS_DATA.search(text))


def content_terms(text: str) -> list[str]:
    return [stem(t) for t in tokenize(text) if t not in STOPWORDS]


# --- extractive answering ---------------------------------------------------------------------


@dataclass
class Selection:
    sentences: list[tuple[str, int]]  # (sentence, hit index)
    coverage: float  # IDF-weighted share of the question's terms the chosen sentences contain
    best_sentence_score: float


class ExtractiveAnswerer:
    """Chooses verbatim sentences from the top hits; no model, no network."""

    def __init__(self, searcher, confidence_model, k: int = 5, abstain_below: float | None = None, scope=None):
        self.searcher = searcher
        self.confidence = confidence_model
        self.scope = scope  # triage.scope.ScopeModel, or None (the feature then reads as in scope)
        self.k = k
        self.threshold = confidence_model.threshold if abstain_below is None else abstain_below
        self._scope_docs = -1  # catalog size the scope model last read the documents at

    def retrieve(self, question: str) -> tuple[list, object]:
        """The hits and the query vector they were found with (the scope model reads the same vector)."""
        question = (question or "").strip()
        if not question:
            return [], None
        vector = self.searcher.embed_query(question)
        return self.searcher.search_with_vector(question, vector, self.k), vector

    def in_scope(self, question: str, vector=None) -> float:
        if self.scope is None:
            return 1.0
        chunks = self.searcher.index.chunks
        if self._scope_docs != len(chunks) and hasattr(self.scope, "known_to_store"):
            # companies the store's documents name (its brands, carriers, payment options) are not other businesses
            self.scope.known_to_store("\n".join(c.text for c in chunks.values()))
            self._scope_docs = len(chunks)
        if vector is not None and self.scope.embedder is not self.searcher.index.embedder:
            vector = None  # the index uses another embedder; the scope model reads its own vectors
        return self.scope.probability(question, vector)

    # the lexical index knows the corpus' vocabulary and IDF; used for question terms
    @property
    def lexical(self):
        return self.searcher.index.lexical

    def question_terms(self, question: str) -> dict[str, float]:
        lex = self.lexical
        # "how long", "how much", "how many" frame the question; they are not its topic
        framed = re.sub(r"(?i)\bhow\s+(long|much|many|soon|far|often)\b", " ", question)
        terms = lex.normalizer.analyze_query(framed) if lex else content_terms(framed)
        weights: dict[str, float] = {}
        for t in terms:
            weights[t] = lex.idf(t) if lex and lex.known(t) else 0.0
        return weights

    def foreign_terms(self, question: str) -> int:
        """Words the store's documents never use and that are not common English either: other brands,
        places, products ("etsy", "patagonia"), after typo repair. Out-of-scope questions have them."""
        lex = self.lexical
        if not lex:
            return 0
        norm = lex.normalizer
        count = 0
        for raw in tokenize(question):
            if len(raw) < 3 or not raw.isalpha() or raw in STOPWORDS or norm.is_word(raw):
                continue
            if stem(raw) in norm.known or any(raw[:-n] in norm.known for n in (1, 2, 3) if len(raw) - n >= 3):
                continue  # an inflection of a common word ("chewed")
            if len(raw) > 4 and norm.correct(raw) != raw:
                continue  # a typo of a word the documents use
            count += 1
        return count

    def features(self, question: str, hits: list, selection: Selection, vector=None) -> dict[str, float]:
        return self.confidence.features(question, hits, selection, self.question_terms(question),
                                        self.foreign_terms(question), self.in_scope(question, vector))

    def analyze(self, question: str, hits: list | None = None, vector=None) -> tuple[list, Selection, dict[str, float]]:
        """Retrieve (unless given hits), choose sentences, and describe both for the confidence model."""
        if hits is None:
            hits, vector = self.retrieve(question)
        selection = self.select(question, hits)
        return hits, selection, self.features(question, hits, selection, vector)

    def select(self, question: str, hits: list) -> Selection:
        q = self.question_terms(question)
        total = sum(q.values()) or 1.0
        top = hits[0].score if hits else 0.0
        scored: list[tuple[float, int, int, str, set[str]]] = []
        for hi, hit in enumerate(hits[:3]):
            # retrieval ranked this chunk lower for a reason: its sentences pay for the gap
            handicap = RANK_PENALTY * hi + GAP_PENALTY * (top - hit.score)
            items, asked = list_items(hit.text), question_sentences(hit.text)
            lead = ""  # the sentence ending in ':' that the list below it completes
            for si, sent in enumerate(split_sentences(hit.text)):
                if sent.rstrip().endswith(":"):
                    lead = sent if not looks_like_instruction(sent) else ""
                    continue  # a lead-in says nothing alone; it travels with the list item it introduces
                if sent not in items:
                    lead = ""
                # a fragment of a list ("socks") needs its lead-in ("The following items cannot be returned:")
                needs_lead = bool(lead) and sent in items and (sent[0].islower() or len(sent.split()) < 5)
                if sent in asked:
                    continue
                if not needs_lead and (sent.rstrip().endswith("?") or sent[0].islower() or looks_like_instruction(sent)):
                    continue  # FAQ questions, overlap fragments and injected orders are not answers
                # an item is scored on its own words; its lead-in only makes it readable
                text = f"{lead}\n{sent}" if needs_lead else sent
                terms = set(content_terms(sent))
                overlap = sum(w for t, w in q.items() if t in terms) / total
                # earlier hits and earlier sentences win ties; very short fragments lose
                score = overlap - handicap - 0.01 * si - (0.15 if len(text.split()) < 4 else 0.0)
                score += answer_type_bonus(question, sent) - (META_PENALTY if META.search(sent) else 0.0)
                scored.append((score, hi, si, text, terms))
        if not scored:
            return Selection([], 0.0, 0.0)
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        best = scored[0]
        chosen = [best]
        words = len(best[3].split())
        for cand in scored[1:]:
            if len(chosen) >= MAX_ANSWER_SENTENCES or cand[0] < max(0.15, 0.6 * best[0]):
                break
            if cand[1] != best[1] and cand[0] < best[0]:
                continue  # stay with the best chunk unless another is as good
            if words + len(cand[3].split()) > MAX_ANSWER_WORDS or any(cand[3] == c[3] for c in chosen):
                continue
            if "\n" in cand[3] and any(c[3].split("\n")[0] == cand[3].split("\n")[0] for c in chosen if "\n" in c[3]):
                continue  # one item per lead-in
            chosen.append(cand)
            words += len(cand[3].split())
        chosen.sort(key=lambda x: (x[1], x[2]))  # document order reads naturally
        covered = set().union(*(c[4] for c in chosen))
        coverage = sum(w for t, w in q.items() if t in covered) / total
        # a list item is quoted after its lead-in: two verbatim sentences, read as one
        sentences = [(part, c[1]) for c in chosen for part in c[3].split("\n")]
        return Selection(sentences, coverage, best[0])

    def answer(self, question: str, hits: list | None = None, vector=None) -> Answer:
        question = (question or "").strip()
        hits, selection, feats = self.analyze(question, hits, vector)
        confidence = self.confidence.predict(feats)
        candidate = hits[selection.sentences[0][1]].source if selection.sentences else ""
        manipulation = looks_like_manipulation(question)
        if manipulation:
            confidence = 0.0  # no answer to "ignore your rules" is a right one
        if not hits or not selection.sentences or confidence < self.threshold:
            off_topic = manipulation or self.confidence.scope_probability(feats) < 0.5
            return Answer(OUT_OF_SCOPE_TEXT if off_topic else ABSTAIN_TEXT, [], confidence, True, mode="abstain",
                          features=feats, candidate_source=candidate, note="out of scope" if off_topic else "")
        answer = compose(selection.sentences, hits, confidence, feats)
        answer.candidate_source = candidate
        return answer


def compose(sentences: list[tuple[str, int]], hits: list, confidence: float, feats: dict, mode: str = "extractive") -> Answer:
    """Number citations by first use, render '<sentence> [n]', list citations best (rank) first."""
    numbers: dict[int, int] = {}
    rendered, parts = [], []
    for i, (sent, hi) in enumerate(sentences):
        n = numbers.setdefault(hi, len(numbers) + 1)
        rendered.append((sent, [n]))
        introduces = sent.endswith(":") and i + 1 < len(sentences) and sentences[i + 1][1] == hi
        parts.append(sent if introduces else f"{sent} [{n}]")  # "Lead-in: item [n]" reads as one sentence
    citations = sorted(
        (Citation(n, hits[hi].source, hits[hi].chunk_id, hits[hi].title, hits[hi].section) for hi, n in numbers.items()),
        key=lambda c: next(hi for hi, n in numbers.items() if n == c.n),
    )
    return Answer(" ".join(parts), citations, confidence, False, mode=mode, sentences=rendered, features=feats)
