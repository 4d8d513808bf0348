"""Turn a file into titled sections of text.

Every loader returns a :class:`LoadedDocument`: the document title and a list of sections, each
with the heading path it sits under. FAQ formats (JSON, JSONL, CSV) give one section per
question, so a question and its answer are always indexed together.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import DocumentError

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".json", ".jsonl", ".csv")

_QUESTION_KEYS = ("question", "q", "title", "prompt", "query")
_ANSWER_KEYS = ("answer", "a", "response", "content", "text", "body")


@dataclass
class Section:
    text: str
    section: str = ""  # heading path, e.g. "Returns > Final sale items"
    is_faq: bool = False


@dataclass
class LoadedDocument:
    source: str
    title: str
    sections: list[Section] = field(default_factory=list)


def humanize_stem(path: Path) -> str:
    if path.stem.lower() in ("faq", "faqs"):
        return "Frequently asked questions"
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize()


def read_text(path: Path, source: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(source, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            source, f"is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8 and ingest again"
        ) from exc
    if "\x00" in text:
        raise DocumentError(source, "looks like a binary file, not text")
    return text


def load_document(path: Path, source: str) -> LoadedDocument:
    """Load one file. Raises :class:`DocumentError` with a clear reason on any problem."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            source, f"unsupported file type '{suffix or '(none)'}'; supported: {' '.join(SUPPORTED_SUFFIXES)}"
        )
    loader = {
        ".md": _load_markdown,
        ".markdown": _load_markdown,
        ".txt": _load_text,
        ".html": _load_html,
        ".htm": _load_html,
        ".pdf": _load_pdf,
        ".json": _load_json,
        ".jsonl": _load_jsonl,
        ".csv": _load_csv,
    }[suffix]
    doc = loader(path, source)
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise DocumentError(source, "is empty (no text to index)")
    return doc


# --- Markdown -------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _load_markdown(path: Path, source: str) -> LoadedDocument:
    text = read_text(path, source)
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # YAML front matter
    return _sections_from_headings(text.splitlines(), source, path, _md_heading)


def _md_heading(line: str) -> tuple[int, str] | None:
    m = _MD_HEADING.match(line)
    if not m:
        return None
    return len(m.group(1)), re.sub(r"[*_`]", "", m.group(2)).strip()


def _sections_from_headings(lines, source, path, heading_of, first_heading_is_title=False) -> LoadedDocument:
    title = ""
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []
    in_code = False

    def flush():
        body = "\n".join(buf).strip()
        if body:
            path_names = [h for _, h in stack if h != title] or []
            sections.append(Section(text=_clean_md(body), section=" > ".join(path_names)))
        buf.clear()

    for line in lines:
        if line.strip().startswith("```"):
            in_code = not in_code
        found = None if in_code else heading_of(line)
        if found:
            flush()
            level, name = found
            if not title and (level == 1 or (first_heading_is_title and not sections and not stack)):
                title = name
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
        else:
            buf.append(line)
    flush()
    return LoadedDocument(source=source, title=title or humanize_stem(path), sections=sections)


def _md_tables(text: str) -> str:
    """Markdown tables as one line per row, each cell labelled with its column header (as for HTML)."""
    out: list[str] = []
    block: list[str] = []

    def flush():
        rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in block
                if not re.match(r"^\s*\|?\s*:?-{3,}", ln)]
        if rows:
            header, body = rows[0], rows[1:]
            for r in body:
                out.append("; ".join(f"{h}: {v}" if h else v for h, v in zip(header, r)) if len(r) == len(header)
                           else " | ".join(r))
            if not body:
                out.append(" | ".join(header))
        block.clear()

    for line in text.splitlines():
        if line.strip().startswith("|") and line.count("|") >= 2:
            block.append(line)
            continue
        if block:
            flush()
        out.append(line)
    if block:
        flush()
    return "\n".join(out)


def _clean_md(text: str) -> str:
    text = _md_tables(text)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images -> alt text
    text = re.sub(r"\[([^\]]+)\]\(([^)]*)\)", r"\1 (\2)", text)  # links keep their target
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"^\s*\|?\s*:?-{3,}.*$", "", text, flags=re.M)  # table separator rows
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# --- Plain text ----------------------------------------------------------------------------


def _txt_heading(line: str) -> tuple[int, str] | None:
    s = line.strip()
    md = _md_heading(s)
    if md:
        return md
    letters = [c for c in s if c.isalpha()]
    if 3 <= len(s) <= 80 and letters and all(c.isupper() for c in letters) and not s.endswith((".", ",")):
        return 2, s.title()
    return None


def _load_text(path: Path, source: str) -> LoadedDocument:
    return _sections_from_headings(read_text(path, source).splitlines(), source, path, _txt_heading)


# --- HTML ------------------------------------------------------------------------------------

_HTML_DROP = ["script", "style", "noscript", "nav", "footer", "header", "form", "svg", "iframe", "button"]


def _load_html(path: Path, source: str) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(path, source), "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_HTML_DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines: list[str] = []
    for el in root.find_all(["h1", "h2", "h3", "h4", "p", "li", "table", "dt", "dd", "blockquote", "pre"]):
        if el.find_parent(["table", "li"]) and el.name != "table":
            continue  # rendered by the enclosing table/list item
        if el.name in ("h1", "h2", "h3", "h4"):
            lines.append("#" * int(el.name[1]) + " " + el.get_text(" ", strip=True))
        elif el.name == "table":
            lines.extend(_table_lines(el))
            lines.append("")
        else:
            text = el.get_text(" ", strip=True)
            if text:
                lines.append(("- " if el.name == "li" else "") + text)
                if el.name != "li":
                    lines.append("")
    doc = _sections_from_headings(lines, source, path, _md_heading)
    h1 = soup.find("h1")
    if not doc.title or doc.title == humanize_stem(path):
        doc.title = (h1.get_text(" ", strip=True) if h1 else "") or page_title.split("|")[0].strip() or doc.title
    return doc


def _table_lines(table) -> list[str]:
    """A table as one line per row, each cell labelled with its column header."""
    rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in table.find_all("tr")]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    caption = table.find("caption")
    out = [caption.get_text(" ", strip=True) + ":"] if caption else []
    header, body = (rows[0], rows[1:]) if table.find("th") else ([], rows)
    for r in body:
        if header and len(header) == len(r):
            out.append("; ".join(f"{h}: {v}" if h else v for h, v in zip(header, r)))
        else:
            out.append(" | ".join(r))
    if not body:
        out.append(" | ".join(header))
    return out


# --- PDF -------------------------------------------------------------------------------------


def _load_pdf(path: Path, source: str) -> LoadedDocument:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except OSError as exc:
        raise DocumentError(source, f"cannot be read ({exc.strerror or exc})") from exc
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DocumentError(source, f"is not a readable PDF ({exc})") from exc
    text = "\n".join(_strip_running_lines(pages))
    if not text.strip():
        raise DocumentError(source, "has no extractable text (scanned PDF?); export it with a text layer")
    doc = _sections_from_headings(text.splitlines(), source, path, _pdf_heading, first_heading_is_title=True)
    if meta_title.strip() and doc.title == humanize_stem(path):
        doc.title = meta_title.strip()
    return doc


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Drop running headers/footers: lines near a page's top or bottom that recur on other pages."""
    if len(pages) < 2:
        return pages
    key = lambda line: re.sub(r"\d+", "#", line.strip().lower())  # noqa: E731  ("Page 2 of 3" ~ "Page 3 of 3")
    edges: dict[str, int] = {}
    for page in pages:
        lines = [ln for ln in page.splitlines() if ln.strip()]
        for k in {key(ln) for ln in lines[:2] + lines[-2:]}:
            edges[k] = edges.get(k, 0) + 1
    running = {k for k, n in edges.items() if n >= 2}
    out = []
    for page in pages:
        lines = [ln for ln in page.splitlines() if ln.strip()]
        out.append("\n".join(ln for i, ln in enumerate(lines)
                             if not (key(ln) in running and (i < 2 or i >= len(lines) - 2)))
                   if lines else "")
    return out


def _pdf_heading(line: str) -> tuple[int, str] | None:
    s = line.strip()
    if not (3 <= len(s) <= 70) or s.endswith((".", ",", ";", ":")) or re.match(r"^(page )?\d+( of \d+)?$", s, re.I):
        return None
    m = re.match(r"^(\d+(?:\.\d+)*)[.)]?\s+([A-Z].*)$", s)
    if m:
        return 2 + m.group(1).count("."), s
    words = s.split()
    if len(words) <= 8 and all(w[0].isupper() or not w[0].isalpha() or w.lower() in _SMALL for w in words):
        return (1 if s.isupper() else 2), s
    return None


_SMALL = {"and", "or", "of", "the", "a", "an", "to", "for", "in", "on", "at", "by", "with", "&"}


# --- FAQ formats -----------------------------------------------------------------------------


def _faq_section(obj: dict, source: str, where: str) -> Section:
    lower = {str(k).lower(): v for k, v in obj.items()}
    q = next((str(lower[k]).strip() for k in _QUESTION_KEYS if lower.get(k)), "")
    a = next((str(lower[k]).strip() for k in _ANSWER_KEYS if lower.get(k)), "")
    if not q or not a:
        raise DocumentError(
            source, f"{where} needs a question and an answer field (found keys: {', '.join(map(str, obj)) or 'none'})"
        )
    category = str(lower.get("category") or lower.get("section") or "").strip()
    return Section(text=f"Q: {q}\nA: {a}", section=(f"{category} > {q}" if category else q), is_faq=True)


def _load_json(path: Path, source: str) -> LoadedDocument:
    text = read_text(path, source)
    if not text.strip():
        raise DocumentError(source, "is empty (no text to index)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(source, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    title = humanize_stem(path)
    if isinstance(data, dict):
        title = str(data.get("title") or title)
        data = next((v for k, v in data.items() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
        raise DocumentError(source, 'must be a FAQ: a list of {"question": ..., "answer": ...} objects')
    sections = [_faq_section(o, source, f"item {i + 1}") for i, o in enumerate(data)]
    return LoadedDocument(source=source, title=title, sections=sections)


def _load_jsonl(path: Path, source: str) -> LoadedDocument:
    sections = []
    for n, line in enumerate(read_text(path, source).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentError(source, f"line {n} is not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise DocumentError(source, f'line {n} must be an object like {{"question": ..., "answer": ...}}')
        sections.append(_faq_section(obj, source, f"line {n}"))
    return LoadedDocument(source=source, title=humanize_stem(path), sections=sections)


def _load_csv(path: Path, source: str) -> LoadedDocument:
    text = read_text(path, source)
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise DocumentError(source, f"is not valid CSV ({exc})") from exc
    if rows and not any(k and k.lower() in _QUESTION_KEYS for k in rows[0]):
        raise DocumentError(source, f"CSV FAQ needs 'question' and 'answer' columns (found: {', '.join(k or '' for k in rows[0])})")
    sections = [_faq_section({k: v for k, v in r.items() if k}, source, f"row {i + 2}") for i, r in enumerate(rows)]
    return LoadedDocument(source=source, title=humanize_stem(path), sections=sections)
