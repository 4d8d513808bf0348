"""One small exception hierarchy for the conversation core; every message says what to do.

Each class carries the HTTP status the service answers with and a stable machine-readable
``code`` (the ``{"error": {"code", "message"}}`` body); the CLI prints the message and exits 1.
"""


class TriageError(Exception):
    """Base class for triage errors."""

    status = 500
    code = "internal_error"


class ConfigurationError(TriageError):
    """Settings or a policy file are invalid."""

    status = 500
    code = "configuration_error"


class InvalidInputError(TriageError):
    """A request or batch line is malformed."""

    status = 422
    code = "invalid_input"


class NotFoundError(InvalidInputError):
    """No such conversation, ticket, macro, agent or source (or not one this caller may see)."""

    status = 404
    code = "not_found"


class IllegalTransitionError(TriageError):
    """A conversation state change that the state machine does not allow."""

    status = 409
    code = "illegal_transition"


class ConflictError(TriageError):
    """Someone else changed the conversation first (optimistic locking), e.g. two agents claiming one chat."""

    status = 409
    code = "conflict"


class UnauthorizedError(TriageError):
    """A missing or unknown bearer token or agent key."""

    status = 401
    code = "unauthorized"


class ForbiddenError(TriageError):
    """The caller is known but may not do this (e.g. an agent without the admin role)."""

    status = 403
    code = "forbidden"


class RateLimitedError(TriageError):
    """Too many requests from one token or address; ``retry_after`` seconds until the next is allowed."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class OrderSourceError(TriageError):
    """The order source cannot be reached or read."""

    status = 503
    code = "order_source_unavailable"


class LLMError(TriageError):
    """The configured LLM failed (network, timeout, refusal, malformed output)."""

    status = 502
    code = "llm_error"
