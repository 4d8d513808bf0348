"""Small, actionable errors raised by the knowledge package."""


class KnowledgeError(Exception):
    """Base class for knowledge-base errors; the message says what to do."""


class DocumentError(KnowledgeError):
    """A single document could not be loaded (unsupported, unreadable, empty, not UTF-8...)."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class EmptyIndexError(KnowledgeError):
    """Searching an index that holds nothing yet."""


class IndexMismatchError(KnowledgeError):
    """The stored index was built with a different embedder than the one configured."""


class BackendUnavailableError(KnowledgeError):
    """A configured backend (Chroma server, embedding API) cannot be reached."""
