"""Token-aware, structure-aware chunking.

Sections from the loaders are split with LangChain's recursive splitter measured in tiktoken
tokens, never across a heading. Each chunk carries its document title and heading path; the text
that is embedded and lexically indexed is prefixed with them so a chunk that says "within 30
days" is still found by a question about returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from knowledge.loaders import LoadedDocument
from knowledge.tokens import DEFAULT_ENCODING, install_tiktoken_cache

# all-MiniLM-L6-v2 reads at most 256 word pieces; ~200 tiktoken tokens plus the title prefix fits.
DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 30
# Bump when loading or chunking changes what a file turns into: every source is re-processed.
PIPELINE_VERSION = 4


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source: str
    index: int
    title: str
    section: str
    text: str

    @property
    def index_text(self) -> str:
        """What gets embedded and lexically indexed: title and heading path, then the body."""
        head = self.title if not self.section else f"{self.title} - {self.section}"
        return f"{head}\n{self.text}"

    @property
    def text_hash(self) -> str:
        return hashlib.sha1(self.text.encode()).hexdigest()[:16]


def chunk_id_for(source: str, index: int) -> str:
    return f"{hashlib.sha1(source.encode()).hexdigest()[:12]}-{index:04d}"


class Chunker:
    def __init__(
        self,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
        encoding: str = DEFAULT_ENCODING,
    ):
        self.chunk_tokens, self.overlap_tokens, self.encoding = chunk_tokens, overlap_tokens, encoding
        self._splitter = None

    @property
    def signature(self) -> str:
        """Identifies what this chunker produces; a change means the index must be rebuilt."""
        return f"v{PIPELINE_VERSION}/{self.encoding}/{self.chunk_tokens}/{self.overlap_tokens}"

    @property
    def splitter(self):
        if self._splitter is None:
            install_tiktoken_cache()
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            self._splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
                encoding_name=self.encoding,
                chunk_size=self.chunk_tokens,
                chunk_overlap=self.overlap_tokens,
                separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
            )
        return self._splitter

    def split(self, doc: LoadedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for sec in doc.sections:
            for piece in self.splitter.split_text(sec.text):
                piece = piece.strip()
                if piece:
                    i = len(chunks)
                    chunks.append(Chunk(chunk_id_for(doc.source, i), doc.source, i, doc.title, sec.section, piece))
        return chunks
