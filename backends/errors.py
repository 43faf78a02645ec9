"""The two ways an external system can fail, as the rest of the portal sees them."""


class BackendError(Exception):
    """Base for failures of an external system, with the system's own message."""


class BackendTransientError(BackendError):
    """Worth retrying: the system was down, slow, overloaded or lost a race (5xx, timeouts, 429, 409 on writes)."""


class BackendPermanentError(BackendError):
    """Retrying will not help: the system refused the request (4xx); the message says why."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
