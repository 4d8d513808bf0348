"""Answers: right and cited on in-scope questions, abstaining on out-of-scope, calibrated, grounded."""

from __future__ import annotations

import time
from pathlib import Path

from evals import metrics as M
from evals.datasets import default_dataset, load_jsonl, select_split
from evals.suites import EvalContext, SuiteResult

DATASET = "answers.jsonl"


def sentence_absent(sentence: str, cited_texts: list[str]) -> bool:
    """Strict: the sentence does not stand (verbatim, whitespace-normalised) in any cited chunk."""
    s = M.normalize_text(sentence)
    return not any(s in M.normalize_text(t) for t in cited_texts)


def groundedness(sentences: list[str], cited_texts: list[str], embedder=None) -> float:
    """Share of sentences supported by the cited context: lexical overlap, or embedding similarity plus overlap."""
    flags = supported_flags(sentences, cited_texts, embedder)
    return sum(flags) / len(flags) if flags else 1.0


def supported_flags(sentences: list[str], cited_texts: list[str], embedder=None) -> list[bool]:
    from triage.answers import content_terms, split_sentences

    if not sentences:
        return []
    ctx_sents = [cs for t in cited_texts for cs in split_sentences(t)]
    if not ctx_sents:
        return [False] * len(sentences)
    ctx_terms = [set(content_terms(cs)) for cs in ctx_sents]
    ctx_vecs = embedder.embed_documents(ctx_sents) if embedder is not None else None
    flags = []
    for sent in sentences:
        terms = set(content_terms(sent))
        overlap = max((len(terms & ct) / len(terms) for ct in ctx_terms), default=0.0) if terms else 1.0
        sim = 0.0
        if ctx_vecs is not None and overlap < 0.8:
            sim = float((ctx_vecs @ embedder.embed_query(sent)).max())
        flags.append(overlap >= 0.8 or (sim >= 0.8 and overlap >= 0.5))
    return flags


def run(ctx: EvalContext, dataset: Path | None = None) -> SuiteResult:
    from knowledge.tokens import count_tokens

    path = Path(dataset or default_dataset(DATASET))
    rows = select_split(load_jsonl(path, ("id", "user_input")), ctx.split)
    answerer = ctx.answerer
    chunks = answerer.extractive.searcher.index.chunks if hasattr(answerer, "extractive") else answerer.searcher.index.chunks
    embedder = ctx.extra.get("embedder")
    items, latencies, confidences, correct, replied_right = [], [], [], [], []
    for n, row in enumerate(rows, 1):
        q = row["user_input"]
        in_scope = bool(row.get("in_scope", True))
        t0 = time.perf_counter()
        ans = answerer.answer(q)
        latencies.append((time.perf_counter() - t0) * 1000)
        cited = [chunks[c.chunk_id].text for c in ans.citations if c.chunk_id in chunks]
        sentences = [s for s, _ in ans.sentences]
        top_ok = bool(ans.citations) and any(M.source_matches(ans.citations[0].source, e) for e in row.get("expected_sources", []))
        any_ok = any(M.source_matches(c.source, e) for c in ans.citations for e in row.get("expected_sources", []))
        right = in_scope and not ans.abstained and top_ok
        # Confidence is the probability that the answer is right, computed before the abstention
        # decision; an abstention is scored on the answer it held back (its first source).
        candidate_ok = top_ok if not ans.abstained else any(
            M.source_matches(ans.candidate_source, e) for e in row.get("expected_sources", []))
        confidences.append(ans.confidence)
        correct.append(bool(in_scope and candidate_ok))
        replied_right.append(bool(right))
        item = {
            "id": row["id"], "split": row.get("split", ""), "question": q, "in_scope": in_scope,
            "answer": ans.text, "mode": ans.mode, "abstained": ans.abstained, "confidence": round(ans.confidence, 4),
            "citations": [c.source for c in ans.citations], "expected": row.get("expected_sources", []),
            "ok": right if in_scope else ans.abstained,
            "top_citation_ok": top_ok, "any_citation_ok": any_ok,
            "absent_sentences": [s for s in sentences if sentence_absent(s, cited)] if not ans.abstained else [],
            "answer_tokens": count_tokens(ans.text),
            "prompt_tokens": ans.prompt_tokens, "completion_tokens": ans.completion_tokens,
        }
        judge = ctx.extra.get("judge")
        if judge is not None and not ans.abstained:
            item["judge"] = judge.grade(q, cited, ans.text)
        if in_scope and not ans.abstained:
            item["fact_coverage"] = M.fact_coverage(row.get("expected_facts", []), ans.text)
            item["token_f1"] = M.token_f1(ans.text, row.get("reference", "")) if row.get("reference") else None
            flags = supported_flags(sentences, cited, embedder)
            item["groundedness"] = sum(flags) / len(flags) if flags else 1.0
            item["unsupported_sentences"] = [s for s, ok in zip(sentences, flags) if not ok]
        items.append(item)
        ctx.tick("answers", n, len(rows))
    ins = [i for i in items if i["in_scope"]]
    oos = [i for i in items if not i["in_scope"]]
    answered = [i for i in ins if not i["abstained"]]
    abstained = [i for i in items if i["abstained"]]
    answered_all = [i for i in items if not i["abstained"]]
    metrics = {
        "n": len(items), "in_scope": len(ins), "out_of_scope": len(oos),
        "answered_right": M.mean([float(i["ok"]) for i in ins]) if ins else float("nan"),
        "oos_abstained": M.mean([float(i["abstained"]) for i in oos]) if oos else float("nan"),
        "abstention_precision": (sum(not i["in_scope"] for i in abstained) / len(abstained)) if abstained else float("nan"),
        "in_scope_abstained": M.mean([float(i["abstained"]) for i in ins]) if ins else float("nan"),
        "citation_accuracy": M.mean([float(i["top_citation_ok"]) for i in answered]) if answered else float("nan"),
        "fact_coverage": M.mean([i["fact_coverage"] for i in answered]) if answered else float("nan"),
        "token_f1": M.mean([i["token_f1"] for i in answered if i["token_f1"] is not None]) if answered else float("nan"),
        "groundedness": M.mean([i["groundedness"] for i in answered]) if answered else float("nan"),
        "replies_with_absent_sentence": sum(1 for i in answered_all if i["absent_sentences"]),
        "unsupported_sentences": sum(len(i.get("unsupported_sentences", [])) for i in items),
        "ece": M.expected_calibration_error(confidences, correct),
        "ece_replies": M.expected_calibration_error(confidences, replied_right),  # abstentions counted as wrong
        "threshold": getattr(answerer, "threshold", float("nan")),
        "answer_tokens_mean": M.mean([i["answer_tokens"] for i in answered_all]) if answered_all else 0.0,
        "prompt_tokens_mean": M.mean([i["prompt_tokens"] for i in items]),
        "completion_tokens_mean": M.mean([i["completion_tokens"] for i in items]),
        "cost_per_answer_usd": (M.mean([i["prompt_tokens"] for i in items]) * ctx.extra.get("price_prompt", 0.0)
                                + M.mean([i["completion_tokens"] for i in items]) * ctx.extra.get("price_completion", 0.0)) / 1e6,
    }
    judged = [i["judge"] for i in items if "judge" in i]
    if judged:
        for key in ("faithfulness", "relevance"):
            vals = [j[key] for j in judged if j[key] is not None]
            spreads = [j[f"{key}_spread"] for j in judged if j[f"{key}_spread"] is not None]
            metrics[f"judge_{key}"] = M.mean(vals) if vals else float("nan")
            metrics[f"judge_{key}_spread_mean"] = M.mean(spreads) if spreads else float("nan")
        metrics["judge_unmeasured"] = sum(1 for j in judged if j["judge_measured"] == 0)
    charts = {"reliability": M.reliability_bins(confidences, correct), "latency_ms": latencies}
    return SuiteResult("answers", metrics, items, charts, dataset=path.name)
