"""One small exception hierarchy for the conversation core; every message says what to do."""


class TriageError(Exception):
    """Base class for triage errors."""


class ConfigurationError(TriageError):
    """Settings or a policy file are invalid."""


class InvalidInputError(TriageError):
    """A request or batch line is malformed."""


class IllegalTransitionError(TriageError):
    """A conversation state change that the state machine does not allow."""


class OrderSourceError(TriageError):
    """The order source cannot be reached or read."""


class LLMError(TriageError):
    """The configured LLM failed (network, timeout, refusal, malformed output)."""
