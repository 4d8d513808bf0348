"""Chat models: the ``ChatModel`` protocol and its OpenAI-compatible implementation (LangChain)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from triage.errors import LLMError


class ChatModel(Protocol):
    model_id: str

    def complete(self, messages: list[dict], max_tokens: int = 400) -> str: ...

    def stream(self, messages: list[dict], max_tokens: int = 400) -> Iterator[str]: ...


def _lc_messages(messages: list[dict]):
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m["role"]](content=m["content"]) for m in messages]


class OpenAIChatModel:
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) via ChatOpenAI."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, timeout: float = 20.0,
                 temperature: float = 0.0):
        from langchain_openai import ChatOpenAI

        self.model_id = model
        # OpenAI renamed the output cap to `max_completion_tokens`, which ChatOpenAI now sends; many
        # OpenAI-compatible servers (llama.cpp, older vLLM) silently ignore it and generate until the
        # context is full. Anything that is not OpenAI itself gets the classic `max_tokens`.
        self.classic_cap = bool(base_url) and "api.openai.com" not in (base_url or "")
        self.llm = ChatOpenAI(model=model, base_url=base_url, api_key=api_key or "not-needed", timeout=timeout,
                              max_retries=1, temperature=temperature)

    def _capped(self, max_tokens: int):
        if self.classic_cap:
            return self.llm.bind(extra_body={"max_tokens": max_tokens})
        return self.llm.bind(max_tokens=max_tokens)

    def complete(self, messages: list[dict], max_tokens: int = 400) -> str:
        try:
            msg = self._capped(max_tokens).invoke(_lc_messages(messages))
        except Exception as exc:  # network, timeout, HTTP status, malformed body: all the same to callers
            raise LLMError(f"LLM call failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
        content = msg.content if isinstance(msg.content, str) else "".join(
            part.get("text", "") for part in msg.content if isinstance(part, dict))
        refusal = (msg.additional_kwargs or {}).get("refusal")
        if refusal:
            raise LLMError(f"LLM refused: {refusal[:200]}")
        return content

    def stream(self, messages: list[dict], max_tokens: int = 400) -> Iterator[str]:
        try:
            for chunk in self._capped(max_tokens).stream(_lc_messages(messages)):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except Exception as exc:
            raise LLMError(f"LLM stream failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
