"""Is a generated sentence supported by the context it cites?

A sentence is supported when one context sentence carries 80% of its content words, every number
in it (prices, days, percentages) appears in the cited context, and its polarity matches (a
"yes, you can return final-sale items" against "final-sale items cannot be returned" fails).
"""

from __future__ import annotations

import re

from knowledge.text import STOPWORDS, stem, tokenize

NEGATIONS = frozenset("not no never cannot can't cant won't wont don't dont doesn't doesnt isn't isnt aren't arent "
                      "unable without nothing none neither nor non".split())
_NUMBER = re.compile(r"\$?\d+(?:[.,]\d+)?%?")
_MARKER = re.compile(r"\s*\[(\d+)\]")
GENERIC = frozenset("yes sure course happy help glad please thank thanks great also just yes, ok okay".split())


def strip_markers(sentence: str) -> tuple[str, list[int]]:
    nums = [int(n) for n in _MARKER.findall(sentence)]
    return _MARKER.sub("", sentence).strip(), nums


def _function_word(token: str) -> bool:
    # "we'll", "you're", "it's": a contraction of function words says nothing a document must support
    head = token.split("'", 1)[0]
    return token in STOPWORDS or token in GENERIC or token in NEGATIONS or ("'" in token and head in STOPWORDS)


def _terms(text: str) -> set[str]:
    return {stem(t) for t in tokenize(text) if not _function_word(t)}


def _negated(text: str) -> bool:
    toks = set(tokenize(text.replace("n't", " not")))
    return bool(toks & NEGATIONS)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip("%").lstrip("$") for n in _NUMBER.findall(text)}


def support(sentence: str, contexts: list[str], min_overlap: float = 0.8) -> tuple[bool, float]:
    """(supported, best overlap) of one sentence against the cited context texts."""
    from triage.answers import split_sentences

    text, _ = strip_markers(sentence)
    if text.rstrip().endswith("?"):
        return False, 0.0  # an echoed question is not an answer
    terms = _terms(text)
    if not terms:
        return False, 0.0  # no content ("Store documents:", "<<<"): nothing a customer needs
    ctx_all = " ".join(contexts)
    if not _numbers(text) <= _numbers(ctx_all):
        return False, 0.0
    best, best_sent = 0.0, ""
    for ctx in contexts:
        for cs in split_sentences(ctx):
            overlap = len(terms & _terms(cs)) / len(terms)
            if overlap > best:
                best, best_sent = overlap, cs
    if best < min_overlap:
        return False, best  # one cited sentence must carry it: merged or reworded claims are not trusted
    if not _numbers(text) <= _numbers(best_sent):
        return False, best  # a price or a time taken from a neighbouring sentence ("$14.95" for Standard)
    if _negated(text) != _negated(best_sent):
        return False, best
    return True, best
