"""Prompt files with versions, and a tiny loader.

Each prompt is a Markdown file in this folder with a header block::

    ---
    name: answer.system
    version: 2
    ---
    text with $placeholders

Placeholders use ``string.Template`` syntax (``$name``), so braces in examples need no escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template

_HEADER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


class PromptError(Exception):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, **values: object) -> str:
        try:
            return Template(self.text).substitute({k: str(v) for k, v in values.items()})
        except KeyError as exc:
            raise PromptError(f"prompt {self.id} needs a value for ${exc.args[0]}") from None


def prompts_dir() -> Path:
    return Path(str(resources.files("prompts")))


@lru_cache(maxsize=64)
def load(name: str, directory: str | None = None) -> Prompt:
    """Load prompt ``name`` (e.g. "answer.system") from ``directory`` or the shipped folder."""
    folder = Path(directory) if directory else prompts_dir()
    path = folder / f"{name.replace('.', '_')}.md"
    if not path.is_file():
        raise PromptError(f"no prompt file {path}")
    raw = path.read_text(encoding="utf-8")
    m = _HEADER.match(raw)
    if not m:
        raise PromptError(f"{path} lacks the '---' header with name and version")
    meta = dict(line.split(":", 1) for line in m.group(1).splitlines() if ":" in line)
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    if meta.get("name") != name or not meta.get("version", "").isdigit():
        raise PromptError(f"{path} header must say name: {name} and an integer version")
    return Prompt(name, int(meta["version"]), raw[m.end():].strip() + "\n")
