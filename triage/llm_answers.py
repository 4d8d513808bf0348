"""LLM answers: context packed to a token budget, cited, checked sentence by sentence.

The extractive answerer runs first and decides abstention from retrieval confidence, so a weak
model can never make the assistant answer something the documents do not cover. The LLM then
phrases the answer from whole chunks, most relevant first; every sentence it writes must be
supported by the chunks it cites (see :mod:`triage.grounding`) or it is dropped, and when too
much is dropped, the model errs, times out or refuses, the extractive answer is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import prompts
from knowledge.tokens import count_tokens
from triage.answers import Answer, Citation, ExtractiveAnswerer, split_sentences
from triage.errors import LLMError
from triage.grounding import strip_markers, support

STORE_NAME = "our store"
MAX_LLM_SENTENCES = 6  # a chat reply; a model that runs on past this is repeating or drifting off the question
_SENTENCE_END = re.compile(r"([.!?])(\s*(?:\[\d+\])*)\s+(?=\S)")


def pack_context(hits: list, budget_tokens: int) -> list:
    """Whole chunks, most relevant first, while they fit the token budget (at least one)."""
    packed, used = [], 0
    for h in hits:
        cost = count_tokens(h.text) + 12
        if packed and used + cost > budget_tokens:
            break
        packed.append(h)
        used += cost
    return packed


class LLMAnswerer:
    def __init__(self, extractive: ExtractiveAnswerer, chat_model, max_context_tokens: int = 1800,
                 store_name: str = STORE_NAME):
        self.extractive = extractive
        self.chat = chat_model
        self.max_context_tokens = max_context_tokens
        self.store_name = store_name
        self.system = prompts.load("answer.system")
        self.user = prompts.load("answer.user")

    @property
    def threshold(self) -> float:
        return self.extractive.threshold

    def _messages(self, question: str, context: list) -> list[dict]:
        blocks = "\n\n".join(f"[{i}] {h.title}{' - ' + h.section if h.section else ''}\n{h.text}"
                             for i, h in enumerate(context, 1))
        return [{"role": "system", "content": self.system.render(store_name=self.store_name)},
                {"role": "user", "content": self.user.render(context=blocks, question=question)}]

    def answer(self, question: str, hits: list | None = None) -> Answer:
        vector = None
        if hits is None:
            hits, vector = self.extractive.retrieve(question)
        base = self.extractive.answer(question, hits, vector)
        if base.abstained:
            return base
        context = pack_context(hits, self.max_context_tokens)
        messages = self._messages(question, context)
        prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        try:
            raw = self.chat.complete(messages)
        except LLMError as exc:
            result = _fallback(base, str(exc))
            result.prompt_tokens = prompt_tokens
            return result
        result = self.check(raw, context, base)
        result.prompt_tokens, result.completion_tokens = prompt_tokens, count_tokens(raw or "")
        return result

    def check(self, raw: str, context: list, base: Answer) -> Answer:
        """Keep only supported, cited sentences; fall back to ``base`` when too little survives."""
        raw = (raw or "").strip()
        if not raw or "NO_ANSWER" in raw:
            return _fallback(base, "model gave no answer")
        sentences = [s for s in split_sentences(raw) if s.strip()]
        kept: list[tuple[str, list[int]]] = []
        seen: set[str] = set()
        for sent in sentences:
            text, cited = strip_markers(sent)
            cited = [n for n in cited if 1 <= n <= len(context)]
            if not text:
                continue
            key = _said(text)
            if key in seen:
                continue  # a small model loops: say each thing once
            seen.add(key)
            candidates = [context[n - 1].text for n in cited] if cited else [h.text for h in context]
            ok, _ = support(text, candidates)
            if not ok:
                continue
            if not cited:  # uncited but supported: cite the best supporting chunk
                scores = [support(text, [h.text])[1] for h in context]
                cited = [scores.index(max(scores)) + 1]
            kept.append((text, cited))
        distinct = len(seen)
        if not kept or len(kept) < distinct * 2 / 3:
            return _fallback(base, f"{distinct - len(kept)} of {distinct} sentences unsupported")
        kept = kept[:MAX_LLM_SENTENCES]  # a chat reply, not the whole page: the model's first points first
        answer = _renumber(kept, context, base)
        if base.citations and answer.citations[0].source != base.citations[0].source:
            # the model leaned on a different main source than the best-supported one: keep the safe answer
            return _fallback(base, "LLM's main source disagrees with retrieval")
        return answer

    def stream(self, question: str) -> Iterator[str]:
        """Verified streaming: text is released sentence by sentence, each checked before it is sent.

        Falls back to the extractive answer (sent whole) when the model fails before anything was
        released; after that, unsupported sentences are simply not sent.
        """
        hits, vector = self.extractive.retrieve(question)
        base = self.extractive.answer(question, hits, vector)
        if base.abstained:
            yield base.text
            return
        context = pack_context(hits, self.max_context_tokens)
        buf, released, seen = "", 0, set()

        def release(sent: str) -> bool:
            key = _said(strip_markers(sent)[0])
            if key in seen or not self._supported(sent, context):
                return False  # unsupported, or said already (a small model loops)
            seen.add(key)
            return True

        try:
            for token in self.chat.stream(self._messages(question, context)):
                buf += token
                while released < MAX_LLM_SENTENCES and (m := _SENTENCE_END.search(buf)):
                    sent, buf = buf[: m.end(2)], buf[m.end():]
                    if release(sent):
                        yield ("" if not released else " ") + sent.strip()
                        released += 1
                if released >= MAX_LLM_SENTENCES:
                    break
            if released < MAX_LLM_SENTENCES and buf.strip() and "NO_ANSWER" not in buf and release(buf):
                yield ("" if not released else " ") + buf.strip()
                released += 1
        except LLMError:
            pass
        if not released:
            yield base.text

    def _supported(self, sentence: str, context: list) -> bool:
        text, cited = strip_markers(sentence)
        cited = [n for n in cited if 1 <= n <= len(context)]
        if not text or "NO_ANSWER" in text:
            return False
        return support(text, [context[n - 1].text for n in cited] if cited else [h.text for h in context])[0]


def _said(text: str) -> str:
    """What a sentence says, for spotting a repeat: case and spacing do not count."""
    return " ".join(text.lower().split())


def _fallback(base: Answer, note: str) -> Answer:
    base.mode = "fallback"
    base.note = note
    return base


def _renumber(kept: list[tuple[str, list[int]]], context: list, base: Answer) -> Answer:
    """Citations best (retrieval rank) first, numbered by that order."""
    used = sorted({n for _, ns in kept for n in ns})
    new = {old: i for i, old in enumerate(used, 1)}
    text = " ".join(f"{s} " + "".join(f"[{new[n]}]" for n in ns) for s, ns in kept)
    citations = [Citation(new[n], context[n - 1].source, context[n - 1].chunk_id, context[n - 1].title,
                          context[n - 1].section) for n in used]
    return Answer(text, citations, base.confidence, False, mode="llm",
                  sentences=[(s, [new[n] for n in ns]) for s, ns in kept], features=base.features)
