"""Message classifier: intent, sentiment, frustration, human request and high-stakes, with reasons.

A lexicon alone misreads support chat (VADER scores "This is the third time I am asking, where
is my order???" 0.0), so each head is a logistic regression over three views of the message:
its sentence embedding (all-MiniLM-L6-v2, local), word and character n-grams (robust to typos),
and interpretable signals (shouting, !!!/???, profanity, repeated contact, threats, explicit
requests for a person, VADER). The signals that fire become the human-readable reasons.

The fitted model ships in the package (``triage/data/classifier.joblib``); ``triage train
classifier`` refits it from a labelled JSONL file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage.fitted import load_fitted

INTENTS = (
    "order_status", "shipping", "returns", "refund", "cancel_or_change_order", "payment_or_billing_issue",
    "damaged_or_wrong_item", "product_question", "promotions_and_gift_cards", "account", "complaint",
    "human_request", "greeting_or_thanks", "other",
)
SENTIMENTS = ("negative", "neutral", "positive")
HIGH_STAKES = ("none", "chargeback", "damaged_item", "billing_dispute", "fraud", "legal", "formal_complaint")

# --- interpretable signals --------------------------------------------------------------------

_ACRONYMS = {"UPS", "DHL", "USPS", "JP", "US", "USA", "UK", "EU", "XL", "XXL", "XS", "OK", "FAQ", "ID", "PO", "APO",
             "FPO", "ETA", "DDP", "DDU", "VAT", "NZ", "AK", "HI", "PR", "ET", "PST", "EST", "CA", "I", "A", "SMS",
             "PDF", "CSV", "BBB", "FTC", "ASAP", "PM", "AM", "TV", "L", "M", "S", "W", "QR", "GPS", "ME", "NY"}
_PROFANITY = re.compile(r"\b(wtf|fuck\w*|f\*+k\w*|shit\w*|sh\*t|bullshit|bs|crap|damn|goddamn|hell|ass|asshole|piss\w*|"
                        r"screw (you|this)|stfu|ffs|omfg|bloody)\b", re.I)
_REPEAT = re.compile(r"\b(third|3rd|fourth|4th|fifth|second|2nd|again|already (asked|told|said|contacted|emailed|called)|"
                     r"still (haven'?t|havent|no|not|waiting|nothing)|how many times|keep (asking|getting)|"
                     r"for (the )?\w+ time|\d+ (times|emails|calls|days|weeks) (now|already)|nobody|no one|no reply|"
                     r"no response|never (got|heard|received))\b", re.I)
_THREAT = re.compile(r"\b(charge ?back|dispute (the|this|it)|(call|contact)(ing)? my bank|reverse the charge|lawyer|"
                     r"attorney|sue|suing|small claims|legal action|court|bbb|better business|attorney general|ftc|"
                     r"(bad|1.star|one.star|negative) review|yelp|trustpilot|report (you|this)|scam\w*|fraud\w*)\b", re.I)
_NEGATIVE = re.compile(r"\b(ridiculous|unacceptable|worst|terrible|awful|horrible|useless|pathetic|joke|disgusting|"
                       r"never again|furious|angry|pissed|fed up|sick of|tired of|waste|incompetent|rip.?off|"
                       r"disappointed|frustrat\w*|annoy\w*|insane|absurd|outrageous|hate)\b", re.I)
_WHO = (r"humans?|humain|person|persona|personne|agents?|representative|rep|operator|manager|supervisor|staff|"
        r"staff member|colleagues?|employee|customer service|customer support|support team|live support|"
        r"whoever is in charge|someone senior|someone in charge|real people|real ppl|actual people|team member")
_CUE = (r"want|wanna|need|give|get|let|can|could|may|would|like|please|pls|plz|now|asap|talk|speak|chat|connect|"
        r"transfer|pass|put|escalate|contact|call|reach|email|hablar|parler|sprechen|available|there|is|are|any")
HUMAN_REQUEST = re.compile(
    r"(^\s*/human\s*$)"
    rf"|\b({_CUE})\b[^.?!]{{0,40}}?\b({_WHO})\b"
    rf"|\b({_WHO})\b[^.?!]{{0,20}}\b(please|pls|plz|now|asap|available|there|here|online)\b"
    r"|\b(real|live|actual)\s+(person|people|ppl|human|agent|being|support|representative|rep|operator)\b"
    r"|\b(can|could|would|need|want|please|have|get)\b[^.?!]{0,20}\b(someone|somebody|anyone|anybody)\b[^.?!]{0,40}\b("
    r"help|look|check|contact|call|email|review|fix|sort|on this|from your|from billing|from accounts|who can)\w*"
    r"|\b(talk|speak|chat|speaking|talking)\s+(with|to)\s+(someone|somebody|anyone|anybody)\b"
    r"|\b(call ?back|video call|phone call|escalate)\b"
    r"|\b(anyone|anybody|someone|somebody)\s+(there|here|around|available|online|real|alive)\b"
    r"|\b(call|phone|ring)\s+(me|someone|somebody|you)\b"
    r"|\b(what'?s|whats|what is|give me|need|have)\b[^.?!]{0,12}\b(your|ur|the|a)\b[^.?!]{0,12}\b(phone|telephone|"
    r"number to call|support email|support number|contact (number|email|info))\b"
    r"|\b(email|e-mail|phone)( address| number)? (for|of) (support|customer service|your team)\b"
    r"|\b(enough|done|tired|sick|hate|useless|stupid|dumb|stop|no more|don'?t want|dont want)\b[^.?!]{0,20}\b(bot|bots|"
    r"robot|chatbot|machine|automated)\b|\bnot (a|the|another) (bot|robot)\b",
    re.I,
)
_SHORT_WHO = re.compile(rf"^\W*(({_WHO})|human|agent|person|manager|supervisor|someone|support)\W*(\w+\W*)?$", re.I)
_FUZZY_TARGETS = ("human", "person", "agent", "talk", "speak", "someone", "representative", "operator")


def _near(word: str, target: str) -> bool:
    """Edit distance <= 1 (with transpositions), for typo'd requests like 'tlak to a humna'."""
    if word == target or abs(len(word) - len(target)) > 1:
        return word == target
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target)) if a != b]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == target[diff[1]]
                                  and word[diff[1]] == target[diff[0]])
    short, long_ = (word, target) if len(word) < len(target) else (target, word)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _fix_typos(text: str) -> str:
    def fix(m: re.Match) -> str:
        w = m.group(0)
        low = w.lower()
        if len(low) < 4:
            return w
        for t in _FUZZY_TARGETS:
            if _near(low, t):
                return t
        return w

    return re.sub(r"[A-Za-z]+", fix, text)


_NOT_HUMAN_REQUEST = re.compile(
    r"\b(delivery|mail|ups|fedex|dhl|usps|shipping|courier|customs|sales|travel|the)\s+(person|guy|agent|agents|driver|"
    r"rep|reps)\b|\b(person|persons|people)\s+(tent|size|sizes|household)\b|\b\d+\s*(person|p)\b|\b(who|which)\s+"
    r"(person|agent)\b[^?]*\b(helped|was|were)\b|\bagent who\b|\bin person\b"
    r"|\b(change|changing|update|updating|edit|correct|fix|wrong|add|new)\b[^.?!]{0,15}\b(phone|number|email)\b", re.I)


# Asking again because the answer did not help: "ok but...", "i mean...", "sorry i don't get it".
REASK = re.compile(
    r"^\W*(ok(ay)?|k|yeah|yes|right|sure|hmm+|um+|uh+|no|so)?\W*(but|and)\b"
    r"|\bi mean\b|\bi meant\b|\b(don'?t|dont|do not|didn'?t|didnt)\s+(get|understand|answer)\b"
    r"|\bnot what i (asked|meant)\b|\byou (didn'?t|did not|dont|don'?t) answer\b|\bor not\b|\bso should i\b"
    r"|\bthat (doesn'?t|does not|didn'?t) (help|answer)\b|\bstill (don'?t|dont|not) (get|understand|know)\b"
    r"|\bsimple question\b|\bjust tell me\b|\bstraight answer\b|\byes or no\b|\bactually\b|\bagain\b"
    r"|\bwhat do you mean\b|\bwhich (one|is it)\b|\bbut (when|what|which|how|can|will|do)\b",
    re.I,
)


def is_reask(text: str) -> bool:
    return bool(REASK.search(text))


# A report of an actual problem with an item received, or with a charge (not a policy question).
_DAMAGE = re.compile(
    r"\b(arrived|came|showed up|received|got|delivered|opened|is|was|are|were|it's|its)\b[^.?!]{0,40}\b(damaged|broken|"
    r"cracked|torn|ripped|smashed|dented|crushed|shattered|bent|leaking|stained|defective|faulty|snapped|split|"
    r"missing|wrong)\b|\b(wrong (item|size|colou?r|product|jacket|boots?|order))\b|\b(doesn'?t|does not|won'?t|"
    r"will not)\s+(work|light|zip|close|inflate|turn on)\b|\bfell apart\b|\bfalling apart\b", re.I)
_HYPOTHETICAL = re.compile(r"\b(what if|what happens if|if (my|an?|the) \w+ (arrives|is|comes)|in case|policy)\b", re.I)
_BILLING = re.compile(r"\b(charged|billed|charge|debited|taken)\b[^.?!]{0,30}\b(twice|two times|double|2x|again|"
                      r"wrong|too much|extra|more than)\b|\b(double|duplicate|unauthori[sz]ed|unknown|unrecogni[sz]ed)\s+"
                      r"(charge|payment|transaction)s?\b|\bdidn'?t (order|authori[sz]e|buy)\b", re.I)


def caps_ratio(text: str) -> float:
    words = [w for w in re.findall(r"[A-Za-z]{3,}", text) if w.upper() not in _ACRONYMS]
    if not words:
        return 0.0
    return sum(1 for w in words if w.isupper()) / len(words)


def signals(text: str) -> list[tuple[str, str]]:
    """(code, detail) for every interpretable signal in the message."""
    return list(_signals(text))


@lru_cache(maxsize=4096)  # a message is read by several heads and by threshold tuning
def _signals(text: str) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    shouted = [w for w in re.findall(r"[A-Za-z]{3,}", text) if w.isupper() and w.upper() not in _ACRONYMS]
    if caps_ratio(text) >= 0.6 and len(shouted) >= 2 or len(shouted) >= 3:
        found.append(("shouting", "writes in capitals: " + " ".join(shouted[:4])))
    if re.search(r"[!?]{3,}|!!|\?\?", text):
        found.append(("punctuation", "repeated !/? marks"))
    if (m := _PROFANITY.search(text)):
        found.append(("profanity", f"profanity ('{m.group(0)}')"))
    if (m := _REPEAT.search(text)):
        found.append(("repeated_contact", f"says it is not the first time ('{m.group(0)}')"))
    if (m := _THREAT.search(text)):
        found.append(("threat", f"mentions '{m.group(0)}'"))
    if (m := _NEGATIVE.search(text)):
        found.append(("negative_words", f"'{m.group(0)}'"))
    if is_human_request_phrase(text):
        found.append(("asks_for_person", "asks for a person"))
    if (m := _DAMAGE.search(text)) and not _HYPOTHETICAL.search(text):
        found.append(("damage_report", f"reports a problem with an item ('{m.group(0)}')"))
    if (m := _BILLING.search(text)):
        found.append(("billing_report", f"reports a charge problem ('{m.group(0)}')"))
    return tuple(found)


@lru_cache(maxsize=4096)
def is_human_request_phrase(text: str) -> bool:
    """Asks for a person: a person-noun with a request cue, a short sentence naming one ("AGENT."),
    "someone ... help/contact", contact details, or complaints about the bot; typos tolerated."""
    cleaned = _NOT_HUMAN_REQUEST.sub(" ", text)
    for candidate in (cleaned, _fix_typos(cleaned)):
        if HUMAN_REQUEST.search(candidate):
            return True
        sentences = re.split(r"(?<=[.!?])\s+|\n", candidate)
        if any(_SHORT_WHO.match(sent.strip()) for sent in sentences if sent.strip()):
            return True
    return False


_SIGNAL_CODES = ("shouting", "punctuation", "profanity", "repeated_contact", "threat", "negative_words", "asks_for_person",
                 "damage_report", "billing_report")


def signal_vector(text: str, vader) -> list[float]:
    codes = {c for c, _ in signals(text)}
    v = [1.0 if c in codes else 0.0 for c in _SIGNAL_CODES]
    scores = vader.polarity_scores(text)
    v += [scores["compound"], scores["neg"], scores["pos"], caps_ratio(text), min(len(text), 400) / 400,
          text.count("!") / 5, text.count("?") / 5]
    return v


# --- the classifier ---------------------------------------------------------------------------


@dataclass
class Classification:
    intent: str
    intent_confidence: float
    sentiment: str
    sentiment_score: float  # -1 (negative) .. +1 (positive)
    frustration: float  # 0..1
    frustrated: bool
    human_request: bool
    high_stakes: str | None
    reasons: list[dict] = field(default_factory=list)  # [{code, detail}]
    signals: list[tuple[str, str]] = field(default_factory=list)

    def public(self) -> dict:
        return {"intent": self.intent, "sentiment": {"label": self.sentiment, "score": round(self.sentiment_score, 3)},
                "frustration": round(self.frustration, 3)}



def fit_vectorizers(texts: list[str], max_words: int = 20000, max_chars: int = 30000):
    """Word 1-2-gram and character 2-5-gram TF-IDF vectorizers fitted on ``texts`` (for text_features)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True, max_features=max_words)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=True,
                           max_features=max_chars)
    return word.fit(texts), char.fit(texts)


def text_blocks(texts: list[str], vectors, word, char, embed_weight: float) -> list:
    """The column blocks of ``text_features``, in order: weighted sentence vector, word n-grams, character n-grams."""
    return [np.asarray(vectors, dtype=np.float32) * embed_weight, word.transform(texts), char.transform(texts)]


def text_features(texts: list[str], vectors, word, char, embed_weight: float):
    """A message as its weighted sentence vector plus word and character n-grams (sparse rows);
    the classifier's heads and the scope model both read this."""
    from scipy import sparse

    emb, words, chars = text_blocks(texts, vectors, word, char, embed_weight)
    return sparse.hstack([sparse.csr_matrix(emb), words, chars]).tocsr()


class MessageClassifier:
    """Holds the fitted heads; needs a local embedder (the model was trained on its vectors)."""

    EMBED_WEIGHT = 2.0

    def __init__(self, embedder, fitted: dict | None = None, path: Path | None = None):
        self.embedder = embedder
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self.fitted = fitted if fitted is not None else load_fitted(path, "classifier.joblib", "classifier",
                                                                    "triage train classifier")

    # -- features ------------------------------------------------------------------------------
    @staticmethod
    def _features(texts, vectors, word, char, vader):
        from scipy import sparse

        sig = np.array([signal_vector(t, vader) for t in texts], dtype=np.float32)
        return sparse.hstack([text_features(texts, vectors, word, char, MessageClassifier.EMBED_WEIGHT),
                              sparse.csr_matrix(sig)]).tocsr()

    def features(self, texts: list[str], vectors=None):
        vectors = self.embedder.embed_documents(texts) if vectors is None else vectors
        return self._features(texts, vectors, self.fitted["word"], self.fitted["char"], self.vader)

    # -- prediction -----------------------------------------------------------------------------
    def classify(self, text: str, vector=None) -> Classification:
        return self.classify_many([text], None if vector is None else np.asarray([vector]))[0]

    def classify_many(self, texts: list[str], vectors=None) -> list[Classification]:
        X = self.features(texts, vectors)
        heads = self.fitted["heads"]
        probs = {name: model.predict_proba(X) for name, model in heads.items()}
        out = []
        for i, text in enumerate(texts):
            out.append(self._one(text, {n: (heads[n].classes_, p[i]) for n, p in probs.items()}))
        return out

    def _one(self, text: str, p: dict) -> Classification:
        def top(name):
            classes, probs = p[name]
            j = int(np.argmax(probs))
            return str(classes[j]), float(probs[j]), dict(zip(map(str, classes), map(float, probs)))

        intent, intent_p, _ = top("intent")
        sentiment, _, sp = top("sentiment")
        sentiment_score = sp.get("positive", 0.0) - sp.get("negative", 0.0)
        _, _, fp = top("frustrated")
        frustration = fp.get("True", fp.get("1", 0.0))
        _, _, hp = top("human_request")
        human_p = hp.get("True", hp.get("1", 0.0))
        stakes, stakes_p, _ = top("high_stakes")
        sig = signals(text)
        thresholds = self.fitted.get("thresholds", {})
        human = human_p >= thresholds.get("human_request", 0.35) or is_human_request_phrase(text)
        if human and intent in ("greeting_or_thanks", "other"):
            intent = "human_request"
        frustrated = frustration >= thresholds.get("frustrated", 0.5)
        high_stakes = None if stakes == "none" or stakes_p < thresholds.get("high_stakes", 0.5) else stakes
        codes = {c for c, _ in sig}
        if high_stakes is None and "damage_report" in codes and intent == "damaged_or_wrong_item":
            high_stakes, stakes_p = "damaged_item", max(stakes_p if stakes == "damaged_item" else 0.0, 0.5)
        elif high_stakes is None and "billing_report" in codes and intent in ("payment_or_billing_issue", "refund"):
            high_stakes, stakes_p = "billing_dispute", 0.5
        reasons = []
        if human:
            reasons.append({"code": "human_request", "detail": "customer asked for a person"
                            + (f" (p={human_p:.2f})" if not is_human_request_phrase(text) else "")})
        if frustrated:
            detail = "; ".join(d for c, d in sig if c != "asks_for_person") or "tone of the message"
            reasons.append({"code": "frustration", "detail": f"frustration {frustration:.2f}: {detail}"})
        if high_stakes:
            reasons.append({"code": "high_stakes", "detail": f"{high_stakes.replace('_', ' ')} (p={stakes_p:.2f})"})
        return Classification(intent, intent_p, sentiment, sentiment_score, frustration, frustrated, human,
                              high_stakes, reasons, sig)


# --- training ----------------------------------------------------------------------------------


def fit(rows: list[dict], vectors: np.ndarray, C: float = 4.0, tune_thresholds: bool = True) -> dict:
    """Fit every head on labelled rows ({message, intent, sentiment, frustrated, human_request, high_stakes}).

    The frustration and high-stakes thresholds are chosen by 5-fold cross-validation on these rows
    (best F0.5 of the out-of-fold predictions), so nothing held out is ever looked at.
    """
    from sklearn.linear_model import LogisticRegression
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = [r["message"] for r in rows]
    word, char = fit_vectorizers(texts, max_words=30000, max_chars=40000)
    X = MessageClassifier._features(texts, vectors, word, char, SentimentIntensityAnalyzer())
    labels = {
        "intent": [r["intent"] for r in rows],
        "sentiment": [r["sentiment"] for r in rows],
        "frustrated": [str(bool(r["frustrated"])) for r in rows],
        "human_request": [str(bool(r["human_request"])) for r in rows],
        "high_stakes": [r.get("high_stakes") or "none" for r in rows],
    }
    heads = {}
    for name, y in labels.items():
        heads[name] = LogisticRegression(C=C, max_iter=3000).fit(X, y)
    thresholds = _cv_thresholds(rows, vectors, C) if tune_thresholds else {}
    return {"word": word, "char": char, "heads": heads, "thresholds": thresholds, "version": 1}


def _cv_thresholds(rows: list[dict], vectors: np.ndarray, C: float) -> dict:
    """Frustration and high-stakes thresholds from out-of-fold predictions on the training rows.

    When the rows say whether a person should take over (``expected_handoff``), the pair is chosen
    for the best F0.5 of the handoff those heads cause: a needless handoff costs agents' time on a
    plain question, so precision counts double, and what matters is the decision, not each head
    alone. Without that label each head gets its own best F0.5.
    """
    from sklearn.model_selection import KFold
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    oof: list[dict | None] = [None] * len(rows)
    for train_idx, test_idx in KFold(5, shuffle=True, random_state=0).split(rows):
        fold = fit([rows[i] for i in train_idx], vectors[train_idx], C, tune_thresholds=False)
        X = MessageClassifier._features([rows[i]["message"] for i in test_idx], vectors[test_idx], fold["word"],
                                        fold["char"], vader)
        probs = {name: (head.classes_, head.predict_proba(X)) for name, head in fold["heads"].items()}
        for j, i in enumerate(test_idx):
            oof[i] = {name: (classes, p[j]) for name, (classes, p) in probs.items()}
    grid = [x / 100 for x in range(25, 81, 5)]

    def f05(pred, gold) -> float:
        tp = sum(p and g for p, g in zip(pred, gold))
        fp = sum(p and not g for p, g in zip(pred, gold))
        fn = sum(g and not p for p, g in zip(pred, gold))
        return 1.25 * tp / (1.25 * tp + 0.25 * fn + fp) if tp else 0.0

    judge = MessageClassifier(None, fitted={"heads": {}})
    judge.vader = vader

    def decisions(thresholds: dict) -> list[Classification]:
        judge.fitted["thresholds"] = thresholds
        return [judge._one(r["message"], p) for r, p in zip(rows, oof)]

    if all("expected_handoff" in r for r in rows):
        gold = [bool(r["expected_handoff"]) for r in rows]
        scored = []
        for tf in grid:
            for ts in grid:
                cls = decisions({"frustrated": tf, "high_stakes": ts})
                pred = [c.human_request or c.frustrated or bool(c.high_stakes) for c in cls]
                scored.append((round(f05(pred, gold), 9), -abs(tf - 0.5) - abs(ts - 0.5), tf, ts))
        _, _, tf, ts = max(scored)
        return {"frustrated": tf, "high_stakes": ts}
    best = {}
    for name, gold in (("frustrated", [bool(r["frustrated"]) for r in rows]),
                       ("high_stakes", [bool(r.get("high_stakes")) for r in rows])):
        scored = []
        for t in grid:
            cls = decisions({"frustrated": t, "high_stakes": t})
            pred = [c.frustrated if name == "frustrated" else bool(c.high_stakes) for c in cls]
            scored.append((round(f05(pred, gold), 9), -abs(t - 0.5), t))
        best[name] = max(scored)[2]
    return best
