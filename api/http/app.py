"""The FastAPI application: `create_app()` wires the service, error bodies, limits, CORS and the routes.

Every error is ``{"error": {"code", "message"}}`` (FastAPI's own 404/405/422 included). The models
warm up in a background thread at start; `/readyz` says when they are loaded and the database answers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.deps import RateLimiter
from api.http.schemas import Health, Ready
from api.settings import Settings
from triage.errors import RateLimitedError, TriageError

log = logging.getLogger("triage.http")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
              422: "validation_error", 429: "rate_limited"}
KNOWLEDGE_STATUS = {"DocumentError": (422, "invalid_document"), "EmptyIndexError": (503, "empty_index"),
                    "IndexMismatchError": (409, "index_mismatch"), "BackendUnavailableError": (503, "backend_unavailable")}


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class BodyLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed in chunks."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"].startswith("/v1/admin/documents")
        limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = error(413, "payload_too_large", f"the request body is larger than {limit} bytes")
        if length is not None:
            try:
                if int(length) > limit:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await error(400, "bad_request", "Content-Length is not a number")(scope, receive, send)
        if length is not None or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        # no Content-Length (chunked): read the body up to the limit before the app sees it
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if seen > limit:
                return await too_big(scope, receive, send)
            chunks.append(message)
            if not message.get("more_body"):
                break
        replay = iter(chunks)

        async def buffered():
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, buffered, send)




class IPRateLimit:
    """Per-client-address limit on the API (health checks exempt)."""

    def __init__(self, app, limiter: RateLimiter):
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            client = (scope.get("client") or ("unknown", 0))[0]
            try:
                self.limiter.hit("ip:" + client, "address")
            except RateLimitedError as exc:
                return await error(429, exc.code, str(exc), {"Retry-After": str(exc.retry_after)})(scope, receive, send)
        return await self.app(scope, receive, send)


def create_app(container=None, *, settings: Settings | None = None, clock=None, warm: bool = True) -> FastAPI:
    from api.wiring import Container

    if container is None:
        if settings is None:
            from api.settings import get_settings

            settings = get_settings()
        container = Container(settings)
    settings = container.settings
    service = container.service(clock=clock)
    bus = container.bus
    ready = threading.Event()

    def warm_up() -> None:
        try:
            if warm:  # off only in tests that never run a turn
                container.ensure_sample_store()
                if serving_sample_store(container) and container.orders.count() == 0:
                    container.ensure_sample_orders()
                service.assistant.classifier.classify("hello")
                service.assistant.answerer.answer("how long do I have to return an item?")
        except Exception:  # reported by /readyz and the log; turns then fail with a clear error
            log.exception("warm-up failed")
        finally:
            ready.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bus.start()
        threading.Thread(target=warm_up, name="triage-warm-up", daemon=True).start()
        yield
        bus.stop()

    app = FastAPI(title="triage", version="1.0",
                  description="Customer chat and agent API of the triage support assistant. Customers send "
                              "`Authorization: Bearer TOKEN` (from POST /v1/conversations); agents their key.",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.service = service
    app.state.container = container
    app.state.bus = bus
    app.state.ready = ready
    app.state.turn_limiter = anyio.CapacityLimiter(settings.turn_threads)
    app.state.token_limiter = RateLimiter(settings.rate_limit_per_token)

    @app.exception_handler(TriageError)
    async def triage_error(request: Request, exc: TriageError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc)
        return error(exc.status, exc.code, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{where}: {e.get('msg')}")
        return error(422, "validation_error", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return error(exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"), message,
                     getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        name = type(exc).__name__
        if name in KNOWLEDGE_STATUS:
            status, code = KNOWLEDGE_STATUS[name]
            return error(status, code, str(exc))
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "something went wrong on our side; the error was logged")

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz():
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, tags=["health"], responses={503: {"model": Ready}})
    async def readyz():
        """Models loaded and the database reachable (503 until then)."""
        try:
            await anyio.to_thread.run_sync(service.store.ping)
            db = True
        except Exception:
            db = False
        body = {"status": "ready" if ready.is_set() and db else "starting" if db else "database_unreachable",
                "models_loaded": ready.is_set(), "database": db}
        return JSONResponse(body, status_code=200 if ready.is_set() and db else 503)

    from api.http import admin, agent, customer

    app.include_router(customer.router)
    app.include_router(agent.router)
    app.include_router(admin.router)

    app.add_middleware(IPRateLimit, limiter=RateLimiter(settings.rate_limit_per_ip))
    app.add_middleware(BodyLimit, settings=settings)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
                           expose_headers=["Retry-After"], max_age=600)
    return app


def serving_sample_store(container) -> bool:
    """True when the knowledge base holds the bundled demo store and nothing else."""
    from api.wiring import display_path, sample_store_dir

    sources = container.index.catalog.sources()
    roots = (display_path(sample_store_dir()), str(sample_store_dir()))
    return bool(sources) and all(s.startswith(roots) for s in sources)


async def wait_ready(request: Request, timeout: float = 120.0) -> None:
    ready: threading.Event = request.app.state.ready
    if ready.is_set():
        return
    for _ in range(int(timeout * 10)):
        if ready.is_set():
            return
        await asyncio.sleep(0.1)
    from triage.errors import TriageError as _E

    err = _E("the service is still loading its models; retry in a moment")
    err.status, err.code = 503, "starting"
    raise err


def app_from_env() -> FastAPI:
    """uvicorn factory (`triage serve` with several workers imports this)."""
    return create_app()
