"""Loading every supported format, and a clear error for every kind of bad file."""

from __future__ import annotations

import json

import pytest

from knowledge.chunking import Chunker
from knowledge.errors import DocumentError
from knowledge.loaders import load_document
from tests.conftest import SAMPLE_DOCS


def test_markdown_headings_become_title_and_sections(tmp_path):
    p = tmp_path / "returns.md"
    p.write_text("# Returns\n\nIntro.\n\n## Final sale\n\nSocks are final sale.\n\n### Swimwear\n\nLiner must be on.\n")
    doc = load_document(p, "returns.md")
    assert doc.title == "Returns"
    assert [s.section for s in doc.sections] == ["", "Final sale", "Final sale > Swimwear"]
    assert "Socks are final sale." in doc.sections[1].text


def test_html_drops_page_chrome_and_labels_table_cells(tmp_path):
    p = tmp_path / "size.html"
    p.write_text(
        "<html><head><title>Sizes | Shop</title></head><body><nav><a href='/'>Home</a> Cart</nav>"
        "<main><h1>Size guide</h1><h2>Tops</h2><table><tr><th>Size</th><th>Chest</th></tr>"
        "<tr><td>M</td><td>38-40</td></tr></table><p>Size up for layering.</p></main>"
        "<footer>Copyright 2026</footer><script>var x=1</script></body></html>"
    )
    doc = load_document(p, "size.html")
    text = "\n".join(s.text for s in doc.sections)
    assert doc.title == "Size guide"
    assert "Size: M; Chest: 38-40" in text and "Size up for layering." in text
    assert "Home" not in text and "Copyright" not in text and "var x" not in text


def test_faq_json_csv_and_jsonl_give_one_section_per_question(tmp_path):
    (tmp_path / "f.json").write_text(json.dumps([{"question": "Do you ship to Peru?", "answer": "No."}]))
    (tmp_path / "f.csv").write_text('question,answer\n"Can I wash merino hot?","No, wash it cold."\n')
    (tmp_path / "f.jsonl").write_text('{"q": "Gift card expiry?", "a": "Never."}\n')
    for name in ("f.json", "f.csv", "f.jsonl"):
        doc = load_document(tmp_path / name, name)
        assert len(doc.sections) == 1 and doc.sections[0].is_faq
        assert doc.sections[0].text.startswith("Q: ") and "\nA: " in doc.sections[0].text


def test_pdf_text_and_title(tmp_path):
    doc = load_document(SAMPLE_DOCS / "warranty.pdf", "warranty.pdf")
    assert "Warranty" in doc.title
    assert any("2 years" in s.text for s in doc.sections)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
        ("empty.md", b"   \n\n", "is empty"),
        ("latin1.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "not valid UTF-8"),
        ("broken.json", b'[{"question": "x", ', "not valid JSON"),
        ("wrong.json", b'{"hello": "world"}', "must be a FAQ"),
        ("nocols.csv", b"foo,bar\n1,2\n", "needs 'question' and 'answer' columns"),
        ("noanswer.jsonl", b'{"question": "only a question"}\n', "needs a question and an answer"),
        ("fake.pdf", b"this is not a pdf", "not a readable PDF"),
    ],
)
def test_bad_files_get_a_clear_error_naming_them(tmp_path, name, content, problem):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DocumentError) as exc:
        load_document(p, f"docs/{name}")
    assert str(exc.value).startswith(f"docs/{name}: ")
    assert problem in str(exc.value)


def test_chunks_are_token_bounded_and_carry_their_heading(tmp_path):
    long_para = " ".join(f"Sentence number {i} about the return window of thirty days." for i in range(200))
    p = tmp_path / "long.md"
    p.write_text(f"# Returns\n\n## Window\n\n{long_para}\n")
    chunks = Chunker(chunk_tokens=120, overlap_tokens=10).split(load_document(p, "long.md"))
    from knowledge.tokens import count_tokens

    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 120 for c in chunks)
    assert all(c.section == "Window" and c.index_text.startswith("Returns - Window\n") for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_tiktoken_works_offline_from_the_project_cache(tmp_path, monkeypatch):
    import hashlib

    from knowledge.tokens import install_tiktoken_cache

    cache = install_tiktoken_cache(tmp_path / "tk")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    f = cache / hashlib.sha1(url.encode()).hexdigest()
    assert f.exists()
    # tiktoken itself verifies this sha256 before use
    assert hashlib.sha256(f.read_bytes()).hexdigest() == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    import tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    assert tiktoken.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
