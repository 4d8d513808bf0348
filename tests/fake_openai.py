"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests (the only fake: the network edge).

Scripted like simonw/llm's fake models: ``server.enqueue("reply")`` queues the next completion;
``enqueue_error(500)``, ``enqueue_hang(seconds)`` and ``enqueue_refusal(text)`` script failures.
Every request body is recorded in ``server.requests`` so tests can check what the client sent.
Streaming requests get Server-Sent Events in the OpenAI chunk format.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAIServer:
    def __init__(self, default_reply: str = "NO_ANSWER"):
        self.script: deque[tuple[str, object]] = deque()
        self.requests: list[dict] = []
        self.default_reply = default_reply
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def enqueue(self, *replies: str) -> None:
        for r in replies:
            self.script.append(("reply", r))

    def enqueue_error(self, status: int = 500, message: str = "internal error") -> None:
        self.script.append(("error", (status, message)))

    def enqueue_hang(self, seconds: float) -> None:
        self.script.append(("hang", seconds))

    def enqueue_refusal(self, text: str = "I can't help with that.") -> None:
        self.script.append(("refusal", text))

    def enqueue_garbage(self) -> None:
        self.script.append(("garbage", None))

    def _next(self) -> tuple[str, object]:
        return self.script.popleft() if self.script else ("reply", self.default_reply)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "body": body})
                if self.path.endswith("/chat/completions"):
                    return self._chat(body)
                if self.path.endswith("/embeddings"):
                    return self._embeddings(body)
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def _chat(self, body: dict) -> None:
                kind, value = server._next()
                if kind == "hang":
                    time.sleep(float(value))
                    kind, value = "reply", server.default_reply
                if kind == "error":
                    status, message = value
                    return self._json(status, {"error": {"message": message, "type": "server_error"}})
                if kind == "garbage":
                    data = b"this is not json"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                content, refusal = (None, value) if kind == "refusal" else (value, None)
                model = body.get("model", "fake")
                if body.get("stream"):
                    return self._stream(model, content or "", refusal)
                message = {"role": "assistant", "content": content}
                if refusal:
                    message["refusal"] = refusal
                self._json(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                })

            def _embeddings(self, body: dict) -> None:
                """Deterministic 8-dim bag-of-letters vectors: similar texts get similar vectors."""
                inputs = body.get("input")
                inputs = [inputs] if isinstance(inputs, str) else inputs
                data = []
                for i, text in enumerate(inputs):
                    vec = [0.0] * 8
                    for ch in str(text).lower():
                        if ch.isalpha():
                            vec[ord(ch) % 8] += 1.0
                    data.append({"object": "embedding", "index": i, "embedding": vec})
                self._json(200, {"object": "list", "data": data, "model": body.get("model", "fake"),
                                 "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _stream(self, model: str, content: str, refusal: str | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def send(delta: dict, finish: str | None = None) -> None:
                    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                send({"role": "assistant", "content": ""})
                if refusal:
                    send({"refusal": refusal})
                words = content.split(" ")
                for i, w in enumerate(words):
                    send({"content": w + (" " if i < len(words) - 1 else "")})
                send({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler
