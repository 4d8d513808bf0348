"""Text normalisation for lexical search: tokens, stems, chat slang and typo repair.

Customers type "retrun", "shiping", "pkg", "u". BM25 matches exact terms, so queries are
normalised before lexical search: slang is expanded, and a word that is neither in the corpus
nor a known English word is replaced by the closest corpus word (edit distance <= 2, most frequent
first). "Known English" is the word-piece vocabulary that ships with the embedding model, so no
dictionary has to be downloaded.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being am do does did
    doing have has had having i me my mine we our ours you your yours he him his she her it its they them their
    this that these those there here what which who whom whose when where why how can could would should will
    shall may might must just so than too very not no nor only own same such into about over under again then
    once all any both each few more most other some up down out off s t don't im i'm ive i've id i'd hi hello hey
    please pls plz thanks thank thx ok okay also get got u ur r ya yo""".split()
)

# Chat shorthand -> words the documents use. Keys are single lowercase tokens.
SLANG = {
    "pkg": "package", "pkgs": "packages", "parcel": "package", "wismo": "where is my order tracking",
    "ship": "ship shipping", "shipped": "shipped shipping", "refunded": "refund", "intl": "international",
    "int'l": "international", "addr": "address", "acct": "account", "pw": "password", "pwd": "password",
    "cc": "credit card", "info": "information", "asap": "soon", "qty": "quantity", "xchange": "exchange",
    "exch": "exchange", "rtn": "return", "ret": "return", "msg": "message", "tmrw": "tomorrow",
    "tmr": "tomorrow", "dm": "message", "promo": "promo code", "coupon": "promo code discount code",
    "discount": "discount promo", "giftcard": "gift card", "cancelation": "cancellation",
    "canceled": "cancelled", "cancelling": "cancel", "canceling": "cancel", "color": "colour",
    "colors": "colours", "ca": "canada", "uk": "uk united kingdom", "eu": "eu europe", "usa": "us united states",
    "aus": "australia", "nz": "new zealand", "po": "po", "apo": "apo", "klarna": "klarna",
    "paypal": "paypal", "amex": "american express", "refund?": "refund", "express": "express expedited",
}


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


# Irregular past forms customers use of what the documents describe ("wore it once" / "unworn",
# "it shrank" / "shrinkage"): stemmed to the same term as the present form.
IRREGULAR = {
    "wore": "wear", "worn": "wear", "bought": "buy", "paid": "pay", "sent": "send", "broke": "break",
    "broken": "break", "tore": "tear", "torn": "tear", "came": "come", "took": "take", "taken": "take",
    "gave": "give", "given": "give", "made": "make", "lost": "lose", "sold": "sell", "held": "hold",
    "chose": "choose", "chosen": "choose", "stole": "steal", "stolen": "steal", "spent": "spend",
    "kept": "keep", "found": "find", "wrote": "write", "written": "write", "fell": "fall", "fallen": "fall",
    "froze": "freeze", "frozen": "freeze", "shrank": "shrink", "shrunk": "shrink", "shrunken": "shrink",
    "ripped": "rip", "began": "begin", "begun": "begin", "rang": "ring", "rung": "ring", "forgot": "forget",
    "forgotten": "forget", "hid": "hide", "hidden": "hide", "bent": "bend", "split": "split",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stemmer (enough for 'returns'/'returned'/'returning' -> 'return'), irregular
    past forms to the present ('wore'/'worn' -> 'wear')."""
    w = IRREGULAR.get(word, word)
    if w != word:
        return w
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf) and not w.endswith("ss"):
            w = w[: -len(suf)]
            break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    return w


def analyze(text: str) -> list[str]:
    """Document-side analysis: tokens without stopwords, stemmed."""
    return [stem(t) for t in tokenize(text) if t not in STOPWORDS]


def _deletes(word: str, depth: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def damerau(a: str, b: str) -> int:
    """Optimal string alignment distance (edits incl. adjacent transpositions)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


class QueryNormalizer:
    """Expands slang and repairs typos against the indexed corpus' own vocabulary.

    Candidates come from a SymSpell-style index of deletions (up to two per word), so a lookup
    costs a few dictionary probes instead of enumerating every two-edit string.
    """

    def __init__(self, corpus_counts: Counter, known_words: frozenset[str] = frozenset()):
        self.counts = corpus_counts
        self.known = known_words
        self._deletes: dict[str, set[str]] = {}
        for w in corpus_counts:
            if len(w) >= 3 and w.isalpha():
                for d in _deletes(w, 2 if len(w) >= 6 else 1):
                    self._deletes.setdefault(d, set()).add(w)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        if word in self.counts or word in self.known or len(word) < 4 or not word.isalpha():
            return word
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        max_dist = 2 if len(word) >= 6 else 1
        cands: set[str] = set()
        for d in _deletes(word, max_dist):
            cands |= self._deletes.get(d, set())
        scored = [(damerau(word, c), c) for c in cands]
        scored = [(dist, c) for dist, c in scored if dist <= max_dist]
        if scored:
            best = min(dist for dist, _ in scored)
            fixed = max((c for dist, c in scored if dist == best), key=lambda c: (self.counts[c], c))
        else:
            fixed = word
        if len(self._cache) < 50000:
            self._cache[word] = fixed
        return fixed

    def normalize_tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for tok in tokenize(text):
            expanded = SLANG.get(tok)
            if expanded:
                out.extend(expanded.split())
            else:
                out.append(self.correct(tok))
        return out

    def repair(self, text: str) -> str:
        """The text with misspelt words replaced in place; everything else (slang, case, punctuation) kept."""

        def fix(m: re.Match) -> str:
            word = m.group(0)
            low = word.lower()
            if low in SLANG:
                return word
            fixed = self.correct(low)
            return word if fixed == low else fixed

        return re.sub(r"[A-Za-z]+", fix, text)

    def normalize(self, text: str) -> str:
        return " ".join(self.normalize_tokens(text))

    def analyze_query(self, text: str) -> list[str]:
        return [stem(t) for t in self.normalize_tokens(text) if t not in STOPWORDS]
