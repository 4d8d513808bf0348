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
# Contractions typed without the apostrophe are words, not typos: "doesnt" is not "does", "wont" not "want".
CONTRACTIONS = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "wont": "won't", "cant": "can't", "isnt": "isn't",
    "arent": "aren't", "wasnt": "wasn't", "werent": "weren't", "havent": "haven't", "hasnt": "hasn't",
    "hadnt": "hadn't", "shouldnt": "shouldn't", "wouldnt": "wouldn't", "couldnt": "couldn't", "aint": "ain't",
    "whats": "what's", "thats": "that's", "youre": "you're", "theyre": "they're", "ive": "i've", "youve": "you've",
    "weve": "we've", "theyve": "they've", "hes": "he's", "shes": "she's", "wheres": "where's", "hows": "how's",
    "whos": "who's", "theres": "there's", "heres": "here's", "youll": "you'll", "theyll": "they'll", "itll": "it'll",
    "youd": "you'd", "theyd": "they'd", "lets": "let's", "whens": "when's", "whys": "why's",
}
SLANG.update(CONTRACTIONS)


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


def edits(a: str, b: str) -> tuple[int, int]:
    """(optimal string alignment distance, letters changed among those edits) from ``a`` to ``b``.

    The distance counts insertions, deletions, substitutions and adjacent transpositions. Typos
    add, drop and swap letters; a changed letter more often makes another word ("etsy" is not
    "easy", "garmin" not "garment", "disable" not "durable"), so the second count is kept apart.
    """
    prev2, prev = None, [(j, 0) for j in range(len(b) + 1)]  # (edits, substitutions) per prefix of b
    for i in range(1, len(a) + 1):
        cur = [(i, 0)] + [(0, 0)] * len(b)
        for j in range(1, len(b) + 1):
            opts = [(prev[j][0] + 1, prev[j][1]), (cur[j - 1][0] + 1, cur[j - 1][1])]
            if a[i - 1] == b[j - 1]:
                opts.append(prev[j - 1])
            else:
                opts.append((prev[j - 1][0] + 1, prev[j - 1][1] + 1))
            if prev2 is not None and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                opts.append((prev2[j - 2][0] + 1, prev2[j - 2][1]))
            cur[j] = min(opts)
        prev2, prev = prev, cur
    return prev[len(b)]


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

    def is_word(self, word: str) -> bool:
        """In the corpus or a known English word."""
        return word in self.counts or word in self.known

    def correct(self, word: str) -> str:
        """The corpus word ``word`` is most likely a typo of, or ``word`` itself.

        Typos add, drop and swap letters, rarely change one, and almost never touch the first letter.
        A word that is an inflection of a known word ("refunding", "womens", "cheapest") is left
        alone unless one missing letter turns it into a corpus word ("shiping" -> "shipping").
        """
        if self.is_word(word) or len(word) < 4 or not word.isalpha():
            return word
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        max_dist = 2 if len(word) >= 8 else 1
        cands: set[str] = set()
        for d in _deletes(word, max_dist):
            cands |= self._deletes.get(d, set())
        scored = []
        for c in cands:
            if (c[0] == word[0] or c[:2] == word[1::-1]) and (len(word) > 5 or len(c) >= len(word)):
                dist, changed = edits(word, c)
                if dist <= max_dist and changed <= (len(word) > 5):
                    scored.append((dist, c))
        fixed = word
        if scored:
            best = min(dist for dist, _ in scored)
            fixed = max((c for dist, c in scored if dist == best), key=lambda c: (self.counts[c], c))
            inflected = any(word.endswith(suf) and self.is_word(word[:-len(suf)])
                            for suf in ("s", "es", "er", "ers", "est", "ed", "ing", "ings") if len(word) - len(suf) >= 3)
            if inflected and not (len(fixed) == len(word) + 1 and best == 1):
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
