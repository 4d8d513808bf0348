"""Self-contained HTML report for an eval run record (what `triage eval --out DIR` writes to run.json).

One file, opens offline: inline CSS, charts as inline SVG built here, native <details> for the
collapsible failure lists (no JavaScript). Stdlib only.

    write_html(record, out_dir) -> out_dir / "report.html"

Any suite renders generically (metrics table + failures); known charts render when present:
  charts.reliability*   [{"lo","hi","n","confidence","accuracy"}]   -> reliability diagram
  charts.confusion*     {"labels": [...], "matrix": [[int]]}        -> heat-map table (rows gold)
  charts.latency*       [ms, ...]                                   -> histogram with p50 / p95
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["write_html", "render_html"]

OPEN_FAILURES_UP_TO = 30  # failure lists longer than this start collapsed
SNIPPET_CHARS = 200
LONG_TEXT_CHARS = 700


def write_html(record: dict, out_dir: Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render_html(record), encoding="utf-8")
    return path


def render_html(record: dict) -> str:
    suites = record.get("suites") or {}
    created = str(record.get("created_at") or "")
    body = [_header(record), _nav(suites)]
    body += [_suite(name, suite or {}) for name, suite in suites.items()]
    if not suites:
        body.append('<p class="muted">This run has no suites.</p>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>triage eval {_e(created)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# --- formatting ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return _is_num(v) and math.isfinite(v)


_NA = '<span class="na">unmeasured</span>'


def _num(v: Any) -> str:
    """A metric value as text; None / NaN / inf are 'unmeasured', never 0."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return _NA
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        if abs(v) >= 10:
            return f"{v:.2f}"
        return f"{v:.4f}"
    if isinstance(v, (dict, list, tuple)):
        return f'<code>{_e(_short(_json(v), 300))}</code>'
    return _e(v)


def _ms(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def _json(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(v)


def _short(text: str, n: int) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _slug(name: str) -> str:
    return "s-" + (re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or "suite")


def _basename(source: str) -> str:
    return str(source).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _source_matches(source: str, expected: str) -> bool:
    s, e = str(source).replace("\\", "/"), str(expected).replace("\\", "/")
    return s == e or s.endswith("/" + e) or _basename(s) == _basename(e)


def _value_html(v: Any, limit: int = LONG_TEXT_CHARS) -> str:
    """A per-item field value, compact."""
    if v is None:
        return '<span class="muted">—</span>'
    if isinstance(v, bool) or _is_num(v):
        return _num(v)
    if isinstance(v, str):
        return _e(_short(v, limit)) if v.strip() else '<span class="muted">(empty)</span>'
    if isinstance(v, (list, tuple)):
        if not v:
            return '<span class="muted">(none)</span>'
        if all(isinstance(x, (str, int, float, bool)) or x is None for x in v):
            shown = [f"<li>{_value_html(x, 300)}</li>" for x in v[:12]]
            more = f'<li class="muted">… {len(v) - 12} more</li>' if len(v) > 12 else ""
            return f'<ul class="vals">{"".join(shown)}{more}</ul>'
    return f"<code>{_e(_short(_json(v), limit))}</code>"


# --- page parts ---------------------------------------------------------------------------------


def _header(record: dict) -> str:
    config = record.get("config") or {}
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(_config_value(v))}</td></tr>"
        for k, v in config.items()
    )
    cfg = f'<table class="kv">{rows}</table>' if rows else '<p class="muted">no config recorded</p>'
    return (
        "<header><h1>triage · eval report</h1>"
        f'<p class="muted">created <time>{_e(record.get("created_at") or "unknown")}</time></p>'
        f"{cfg}</header>"
    )


def _config_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ", ".join(v)
    return _json(v)


def _nav(suites: dict) -> str:
    links = []
    for name, suite in suites.items():
        items = (suite or {}).get("items") or []
        failed = sum(1 for i in items if isinstance(i, dict) and i.get("ok") is False)
        badge = f'<span class="bad">{failed} failed</span>' if failed else '<span class="good">all ok</span>'
        links.append(f'<li><a href="#{_slug(name)}">{_e(name)}</a> <span class="muted">{len(items)} items</span> {badge}</li>')
    return f'<nav><ul>{"".join(links)}</ul></nav>' if links else ""


def _suite(name: str, suite: dict) -> str:
    metrics = suite.get("metrics") or {}
    items = [i for i in (suite.get("items") or []) if isinstance(i, dict)]
    charts = suite.get("charts") or {}
    failed = [i for i in items if i.get("ok") is False]
    dataset = suite.get("dataset")
    sub = f'<span class="muted">{_e(dataset)} · {len(items)} items · {len(failed)} failed</span>' if dataset else \
        f'<span class="muted">{len(items)} items · {len(failed)} failed</span>'
    mrows = "".join(f"<tr><th>{_e(k)}</th><td>{_num(v)}</td></tr>" for k, v in metrics.items())
    mtable = f'<table class="metrics"><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{mrows}</tbody></table>' \
        if mrows else '<p class="muted">no metrics</p>'
    return (
        f'<section id="{_slug(name)}"><h2>{_e(name)} {sub}</h2>'
        f'<div class="row">{mtable}{_charts(charts)}</div>'
        f"{_failures(name, items, failed)}</section>"
    )


# --- charts -------------------------------------------------------------------------------------


def _charts(charts: dict) -> str:
    figs, skipped = [], []
    for key, data in charts.items():
        k = str(key).lower()
        try:
            if k.startswith("reliability") and isinstance(data, list):
                figs.append(_figure(key, _reliability_svg(data), _RELIABILITY_CAPTION, 320))
            elif k.startswith("confusion") and isinstance(data, dict):
                figs.append(_confusion(key, data))
            elif k.startswith("latency") and isinstance(data, list):
                figs.append(_latency(key, data))
            else:
                skipped.append(key)
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:  # a malformed chart must not lose the report
            figs.append(f'<figure class="chart"><figcaption>{_e(key)}</figcaption><p class="bad">cannot draw: {_e(exc)}</p></figure>')
    if skipped:
        figs.append(f'<p class="muted note">not drawn: {_e(", ".join(map(str, skipped)))}</p>')
    return f'<div class="charts">{"".join(figs)}</div>' if figs else ""


def _figure(title: str, svg: str, caption: str, width: int) -> str:
    return (f'<figure class="chart"><figcaption><b>{_e(title)}</b></figcaption>{svg}'
            f'<p class="cap" style="max-width:{width}px">{caption}</p></figure>')


def _svg_open(w: int, h: int, label: str) -> str:
    return (f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'role="img" aria-label="{_e(label)}">')


_RELIABILITY_CAPTION = ('<span style="color:#5b8def">■</span> accuracy per confidence bin · '
                        '<span style="color:#cf222e">━</span> mean confidence in the bin · dashed: perfect calibration · '
                        'n: questions per bin')


def _reliability_svg(bins: list) -> str:
    W, H, L, R, T, B = 320, 296, 40, 10, 24, 40
    pw, ph = W - L - R, H - T - B
    x = lambda v: L + v * pw  # noqa: E731
    y = lambda v: T + (1 - v) * ph  # noqa: E731
    out = [_svg_open(W, H, "reliability diagram")]
    for t in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(f'<line class="grid" x1="{x(0):.1f}" y1="{y(t):.1f}" x2="{x(1):.1f}" y2="{y(t):.1f}"/>')
        out.append(f'<text class="tick" x="{L - 5}" y="{y(t) + 3.5:.1f}" text-anchor="end">{t:.1f}</text>')
        out.append(f'<text class="tick" x="{x(t):.1f}" y="{T + ph + 14}" text-anchor="middle">{t:.1f}</text>')
    for b in bins:
        if not isinstance(b, dict):
            continue
        lo, hi = float(b.get("lo", 0)), float(b.get("hi", 0))
        if not (0 <= lo < hi <= 1):
            continue
        acc, conf, n = b.get("accuracy"), b.get("confidence"), b.get("n")
        x0, bw = x(lo) + 1.5, (hi - lo) * pw - 3
        tip = (f"confidence {lo:.2f}–{hi:.2f}: n={n}, mean confidence "
               f"{conf:.3f}, accuracy {acc:.3f}" if _finite(acc) and _finite(conf) else f"confidence {lo:.2f}–{hi:.2f}: n={n}")
        if _finite(acc):
            a = min(max(float(acc), 0.0), 1.0)
            out.append(f'<rect class="bar" x="{x0:.1f}" y="{y(a):.1f}" width="{bw:.1f}" height="{max(a * ph, 1):.1f}">'
                       f"<title>{_e(tip)}</title></rect>")
        if _finite(conf):
            c = min(max(float(conf), 0.0), 1.0)
            out.append(f'<line class="conf" x1="{x0:.1f}" y1="{y(c):.1f}" x2="{x0 + bw:.1f}" y2="{y(c):.1f}"/>')
        if n is not None:
            out.append(f'<text class="n" x="{x0 + bw / 2:.1f}" y="{T - 6}" text-anchor="middle">{_e(n)}</text>')
    out.append(f'<text class="tick" x="{L - 5}" y="{T - 6}" text-anchor="end">n</text>')
    out.append(f'<line class="diag" x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}"/>')
    out.append(f'<rect class="frame" x="{L}" y="{T}" width="{pw}" height="{ph}"/>')
    out.append(f'<text class="axis" x="{L + pw / 2:.1f}" y="{H - 6}" text-anchor="middle">confidence</text>')
    out.append(f'<text class="axis" transform="translate(11,{T + ph / 2:.1f}) rotate(-90)" text-anchor="middle">accuracy</text>')
    out.append("</svg>")
    return "".join(out)


def _confusion(key: str, data: dict) -> str:
    labels = [str(lab) for lab in data.get("labels") or []]
    matrix = data.get("matrix") or []
    if not labels or len(matrix) != len(labels):
        raise ValueError("confusion needs labels and a square matrix")
    cells = [[int(v or 0) for v in row] for row in matrix]
    if any(len(row) != len(labels) for row in cells):
        raise ValueError("confusion matrix is not square")
    peak = max((v for row in cells for v in row), default=0) or 1
    total = sum(map(sum, cells))
    right = sum(cells[i][i] for i in range(len(labels)))
    vertical = max(map(len, labels)) > 6 and len(labels) > 3
    head = "".join(f'<th class="{"vh" if vertical else "ch"}" title="{_e(lab)}"><span>{_e(_short(lab, 18))}</span></th>'
                   for lab in labels)
    rows = []
    for i, (lab, row) in enumerate(zip(labels, cells)):
        tds = []
        for j, v in enumerate(row):
            a = v / peak
            style = f"background:rgba(29,78,216,{0.08 + 0.92 * a:.3f});" if v else ""
            if a > 0.5:
                style += "color:#fff;"
            cls = "diag" if i == j else ""
            tds.append(f'<td class="{cls}" style="{style}" title="gold {_e(lab)} → predicted {_e(labels[j])}: {v}">{v}</td>')
        n = sum(row)
        recall = f"{row[i] / n:.2f}" if n else "–"
        rows.append(f'<tr><th class="rh" title="{_e(lab)}">{_e(_short(lab, 24))}</th>{"".join(tds)}<td class="tot">{n}</td><td class="tot">{recall}</td></tr>')
    acc = f"accuracy {right / total:.3f} ({right}/{total})" if total else "no examples"
    table = (f'<table class="confusion"><thead><tr><th class="corner">gold ↓ / predicted →</th>{head}'
             f'<th class="tot">n</th><th class="tot">recall</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<figure class="chart"><figcaption><b>{_e(key)}</b></figcaption>{table}<p class="cap">rows: gold · columns: predicted · {_e(acc)}</p></figure>'


def _percentile(xs: list[float], q: float) -> float:
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _nice_ticks_linear(hi: float, integer: bool = False) -> list[float]:
    if hi <= 0:
        return [0.0]
    raw = hi / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1, math.ceil(step))
    ticks = [i * step for i in range(int(hi / step + 1e-9) + 1)]
    return ticks if ticks[-1] >= hi - 1e-9 else ticks + [ticks[-1] + step]


def _latency(key: str, values: list) -> str:
    xs = sorted(float(v) for v in values if _finite(v) and v >= 0)
    if not xs:
        return f'<figure class="chart"><figcaption><b>{_e(key)}</b></figcaption><p class="muted">no samples</p></figure>'
    p50, p95 = _percentile(xs, 50), _percentile(xs, 95)
    lo, hi = xs[0], xs[-1]
    log = lo > 0 and hi / lo > 30
    nb = 30 if len(xs) >= 60 else max(8, len(xs) // 2)
    if log:
        a, b = math.log10(lo), math.log10(hi)
        a, b = math.floor(a * 4) / 4, math.ceil(b * 4 + 1e-9) / 4
        fwd = lambda v: (math.log10(max(v, 10 ** a)) - a) / (b - a)  # noqa: E731
        edges = [10 ** (a + (b - a) * i / nb) for i in range(nb + 1)]
    else:
        top = _nice_ticks_linear(hi)[-1] or 1.0
        fwd = lambda v: v / top  # noqa: E731
        edges = [top * i / nb for i in range(nb + 1)]
    counts = [0] * nb
    for v in xs:
        i = min(int(fwd(v) * nb), nb - 1)
        counts[max(i, 0)] += 1
    W, H, L, R, T, B = 420, 230, 40, 12, 24, 38
    pw, ph = W - L - R, H - T - B
    yticks = _nice_ticks_linear(max(counts), integer=True)
    ymax = yticks[-1] or 1
    X = lambda v: L + fwd(v) * pw  # noqa: E731
    Y = lambda c: T + (1 - c / ymax) * ph  # noqa: E731
    out = [_svg_open(W, H, f"latency histogram {key}")]
    for t in yticks:
        out.append(f'<line class="grid" x1="{L}" y1="{Y(t):.1f}" x2="{L + pw}" y2="{Y(t):.1f}"/>')
        out.append(f'<text class="tick" x="{L - 5}" y="{Y(t) + 3.5:.1f}" text-anchor="end">{t:g}</text>')
    if log:
        ticks = [m * 10 ** e for e in range(math.floor(a), math.ceil(b) + 1) for m in (1, 2, 5)
                 if a - 1e-9 <= math.log10(m * 10 ** e) <= b + 1e-9]
    else:
        ticks = [t for t in _nice_ticks_linear(edges[-1]) if t <= edges[-1] + 1e-9]
    for t in ticks:
        out.append(f'<line class="grid" x1="{X(t):.1f}" y1="{T + ph}" x2="{X(t):.1f}" y2="{T + ph + 4}"/>')
        out.append(f'<text class="tick" x="{X(t):.1f}" y="{T + ph + 15}" text-anchor="middle">{_e(_tick_ms(t))}</text>')
    bw = pw / nb
    for i, c in enumerate(counts):
        if not c:
            continue
        out.append(f'<rect class="bar" x="{L + i * bw + 0.5:.1f}" y="{Y(c):.1f}" width="{max(bw - 1, 1):.1f}" '
                   f'height="{T + ph - Y(c):.1f}"><title>{_e(_ms(edges[i]))} – {_e(_ms(edges[i + 1]))}: {c}</title></rect>')
    x50, x95 = X(p50), X(p95)
    a50 = ("end", -3) if x50 - L > 70 else ("start", 3)
    a95 = ("start", 3) if L + pw - x95 > 80 else ("end", -3)
    y95 = T - 6 if (a50[0], a95[0]) == ("end", "start") or abs(x95 - x50) > 90 else T + 10
    for label, v, px, (anchor, dx), ty in (("p50", p50, x50, a50, T - 6), ("p95", p95, x95, a95, y95)):
        out.append(f'<line class="{label}" x1="{px:.1f}" y1="{T - 2}" x2="{px:.1f}" y2="{T + ph}"/>')
        out.append(f'<text class="lab {label}" x="{px + dx:.1f}" y="{ty}" text-anchor="{anchor}">{label} {_e(_ms(v))}</text>')
    out.append(f'<line class="axisline" x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}"/>')
    out.append(f'<text class="axis" x="{L + pw / 2:.1f}" y="{H - 5}" text-anchor="middle">latency{" (log scale)" if log else ""}</text>')
    out.append(f'<text class="axis" transform="translate(11,{T + ph / 2:.1f}) rotate(-90)" text-anchor="middle">count</text>')
    out.append("</svg>")
    mean = sum(xs) / len(xs)
    cap = f"n={len(xs)} · p50 {_ms(p50)} · p95 {_ms(p95)} · mean {_ms(mean)} · max {_ms(hi)}"
    return _figure(key, "".join(out), _e(cap), W)


def _tick_ms(v: float) -> str:
    if v >= 1000:
        s = f"{v / 1000:g}"
        return f"{s}s"
    return f"{v:g}"


# --- failures -----------------------------------------------------------------------------------

_QUESTION_KEYS = ("question", "query", "message", "ticket", "text", "input", "subject", "conversation")
_FIRST = ("answer", "summary", "predicted", "prediction", "label", "retrieved", "citations", "confidence",
          "abstained", "mode", "rank", "missing_facts", "absent_sentences")
_BAD_WHEN_PRESENT = {"missing_facts", "absent_sentences"}
_HIDDEN = {"id", "ok", "split", "in_scope"}


def _failures(name: str, items: list[dict], failed: list[dict]) -> str:
    if not items:
        return ""
    if not failed:
        return f'<p class="good">No failures ({len(items)} items).</p>'
    rows = "".join(_failure_row(i) for i in failed)
    open_ = " open" if len(failed) <= OPEN_FAILURES_UP_TO else ""
    return (f"<details class=\"failures\"{open_}><summary>failures: {len(failed)} of {len(items)}</summary>"
            '<table class="fail"><colgroup><col class="c-id"><col class="c-q"><col class="c-exp"><col class="c-got"></colgroup>'
            f'<thead><tr><th>id</th><th>question</th><th>expected</th><th>got</th></tr></thead><tbody>{rows}</tbody></table></details>')


def _failure_row(item: dict) -> str:
    qkey = next((k for k in _QUESTION_KEYS if k in item and isinstance(item[k], str)), None)
    question = _e(_short(item[qkey], LONG_TEXT_CHARS)) if qkey else '<span class="muted">—</span>'
    tags = []
    if item.get("split"):
        tags.append(f'<span class="tag">{_e(item["split"])}</span>')
    if item.get("in_scope") is False:
        tags.append('<span class="tag warn">out of scope</span>')
    elif item.get("in_scope") is True:
        tags.append('<span class="tag">in scope</span>')
    exp_keys = [k for k in item if k != qkey and (k.startswith("expected") or k.startswith("gold") or k == "reference")]
    expected = []
    for k in exp_keys:
        v = item[k]
        label = "" if k == "expected" else f"<b>{_e(k)}</b>: "
        if k == "expected" and item.get("in_scope") is False and not v:
            expected.append('<span class="muted">abstain / hand off</span>')
        else:
            expected.append(f"<div>{label}{_value_html(v)}</div>")
    shown = _HIDDEN | set(exp_keys) | ({qkey} if qkey else set())
    rest = [k for k in item if k not in shown]
    ordered = [k for k in _FIRST if k in rest] + [k for k in rest if k not in _FIRST]
    got, key, minor = [], [], []
    expected_list = item.get("expected") if isinstance(item.get("expected"), list) else []
    for k in ordered:
        v = item[k]
        if k == "retrieved" and isinstance(v, list):
            got.append(_retrieved_html(v, expected_list))
        elif k == "citations" and isinstance(v, list) and all(isinstance(c, str) for c in v):
            got.append(f"<div><b>citations</b>: {_sources_inline(v, expected_list)}</div>")
        elif k in ("answer", "summary") and isinstance(v, str):
            got.append(f'<div class="ans"><b>{_e(k)}</b>: {_value_html(v)}</div>')
        elif k == "rank" and v is None:
            key.append('<b>rank</b>: <span class="bad">expected source not retrieved</span>')
        elif isinstance(v, (list, tuple, dict)) and not v:
            minor.append(f"{_e(k)}: {_value_html(v)}")
        elif isinstance(v, (list, tuple, dict)) or (isinstance(v, str) and len(v) > 60):
            cls = ' class="bad"' if k in _BAD_WHEN_PRESENT else ""
            got.append(f"<div{cls}><b>{_e(k)}</b>: {_value_html(v)}</div>")
        elif k in _FIRST:
            key.append(f"<b>{_e(k)}</b>: {_value_html(v)}")
        else:
            minor.append(f"{_e(k)}: {_value_html(v)}")
    if key:
        got.append(f'<div class="keyline">{" · ".join(key)}</div>')
    if minor:
        got.append(f'<div class="minor">{" · ".join(minor)}</div>')
    return (f'<tr><td class="id">{_e(item.get("id", ""))}</td><td>{question}<div>{"".join(tags)}</div></td>'
            f'<td>{"".join(expected) or "<span class=muted>—</span>"}</td><td>{"".join(got)}</td></tr>')


def _sources_inline(sources: list[str], expected: list) -> str:
    if not sources:
        return '<span class="muted">(none)</span>'
    parts = []
    for src in sources:
        hit = any(_source_matches(src, e) for e in expected)
        parts.append(f'<span class="src{" hit" if hit else ""}" title="{_e(src)}">{_e(_basename(src))}</span>')
    return ", ".join(parts)


def _retrieved_html(hits: list, expected: list) -> str:
    if not hits:
        return '<div><b>retrieved</b>: <span class="muted">(nothing)</span></div>'
    lis = []
    for h in hits:
        if not isinstance(h, dict):
            lis.append(f"<li>{_value_html(h, SNIPPET_CHARS)}</li>")
            continue
        src = str(h.get("source", "?"))
        hit = any(_source_matches(src, e) for e in expected)
        score = h.get("score")
        score_txt = f"{score:.3f}" if _finite(score) else "–"
        text = h.get("text")
        snip = f'<div class="snip">{_e(_short(text, SNIPPET_CHARS))}</div>' if isinstance(text, str) and text.strip() else ""
        lis.append(f'<li class="{"hit" if hit else ""}"><span class="score">{score_txt}</span> '
                   f'<span class="src" title="{_e(src)}">{_e(_basename(src))}</span>{snip}</li>')
    return f'<div><b>retrieved</b>:<ol class="retrieved">{"".join(lis)}</ol></div>'


_CSS = """
:root{color-scheme:light;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg2:#f6f8fa;--blue:#1d4ed8;--red:#cf222e;--green:#1a7f37;--amber:#9a6700}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);margin:0 auto;padding:18px 24px 48px;max-width:1280px;background:#fff}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:18px;margin:0 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h2 .muted{font-size:13px;font-weight:normal;margin-left:6px}
.muted{color:var(--muted)}
.na{color:var(--muted);font-style:italic}
.bad{color:var(--red)}
.good{color:var(--green)}
header{margin-bottom:10px}
table{border-collapse:collapse}
th,td{text-align:left;vertical-align:top}
table.kv{font-size:13px}
table.kv th{font-weight:600;padding:1px 12px 1px 0;color:var(--muted)}
table.kv td{padding:1px 0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
nav ul{list-style:none;padding:0;margin:8px 0 18px;display:flex;flex-wrap:wrap;gap:8px 22px}
nav a{font-weight:600;color:var(--blue);text-decoration:none}
section{margin:22px 0 30px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
table.metrics{min-width:250px;font-size:13px;border:1px solid var(--line)}
table.metrics thead th{background:var(--bg2);border-bottom:1px solid var(--line)}
table.metrics th,table.metrics td{padding:2px 10px}
table.metrics tbody th{font-weight:normal;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table.metrics td{text-align:right;font-variant-numeric:tabular-nums}
table.metrics tbody tr:nth-child(even){background:var(--bg2)}
.charts{display:flex;flex-wrap:wrap;gap:16px;flex:1;min-width:0;align-items:flex-start}
figure.chart{margin:0;padding:8px 10px;border:1px solid var(--line);border-radius:6px;background:#fff}
figure.chart figcaption{font-size:13px;margin-bottom:4px}
figure.chart svg{display:block;max-width:100%;height:auto}
.cap{margin:4px 0 0;font-size:12px;color:var(--muted)}
.note{align-self:flex-end;font-size:12px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .frame{fill:none;stroke:#8c959f;stroke-width:1}
svg .axisline{stroke:#8c959f;stroke-width:1}
svg .tick{font-size:10px;fill:var(--muted)}
svg .axis{font-size:11px;fill:var(--fg)}
svg .n{font-size:9.5px;fill:#24292f}
svg .bar{fill:#5b8def}
svg .bar:hover{fill:var(--blue)}
svg .conf{stroke:var(--red);stroke-width:2}
svg .diag{stroke:#57606a;stroke-width:1.2;stroke-dasharray:4 3}
svg line.p50{stroke:var(--green);stroke-width:1.5;stroke-dasharray:3 2}
svg line.p95{stroke:var(--red);stroke-width:1.5;stroke-dasharray:3 2}
svg text.lab{font-size:10.5px;font-weight:600}
svg text.p50{fill:var(--green)}
svg text.p95{fill:var(--red)}
table.confusion{font-size:12px;font-variant-numeric:tabular-nums}
table.confusion td{min-width:34px;padding:4px 6px;text-align:center;vertical-align:middle;border:1px solid #fff}
table.confusion td.diag{outline:2px solid #1f2328;outline-offset:-2px;font-weight:700}
table.confusion th{padding:3px 6px;font-weight:600}
table.confusion th.rh{text-align:right;white-space:nowrap;vertical-align:middle}
table.confusion th.ch{text-align:center;vertical-align:bottom;white-space:nowrap}
table.confusion th.vh{vertical-align:bottom;text-align:center;padding:4px 2px}
table.confusion th.vh span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;display:inline-block}
table.confusion th.corner{font-weight:normal;color:var(--muted);font-size:11px;vertical-align:bottom;text-align:right;white-space:nowrap}
table.confusion .tot{color:var(--muted);background:var(--bg2);text-align:center;vertical-align:bottom}
details.failures{margin-top:14px}
details.failures>summary{cursor:pointer;font-weight:600;font-size:15px;margin-bottom:6px;color:var(--red)}
table.fail{width:100%;table-layout:fixed;font-size:13px;border:1px solid var(--line)}
table.fail thead th{background:var(--bg2);padding:4px 8px;border-bottom:1px solid var(--line)}
table.fail td{padding:6px 8px;border-top:1px solid var(--line);overflow-wrap:anywhere}
table.fail tbody tr:nth-child(even){background:#fbfcfd}
col.c-id{width:70px}col.c-q{width:26%}col.c-exp{width:16%}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.tag{display:inline-block;font-size:11px;padding:0 6px;margin:3px 4px 0 0;border-radius:9px;background:var(--bg2);border:1px solid var(--line);color:var(--muted)}
.tag.warn{color:var(--amber);border-color:#d4a72c}
ul.vals{margin:0;padding-left:16px}
ol.retrieved{margin:2px 0 0;padding-left:22px}
ol.retrieved li{margin-bottom:3px}
.src.hit,ol.retrieved li.hit .src{color:var(--green)}
.src.hit::after,ol.retrieved li.hit .src::after{content:" ✓";font-weight:normal}
.score{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;color:var(--muted)}
.src{font-weight:600}
.snip{color:var(--muted);font-size:12px;line-height:1.35}
.ans{margin-bottom:3px}
.keyline{margin-top:2px}
.minor{color:var(--muted);font-size:12px;margin-top:3px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
"""
