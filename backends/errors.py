"""The two ways an external system can fail, as the rest of the portal sees them."""

from __future__ import annotations


class BackendError(Exception):
    """A failure of an external system, with the system's own message."""

    def __init__(self, message: str, *, system: str = "", status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status
        self.reason = reason


class BackendTransientError(BackendError):
    """Worth retrying: the system was down, slow, overloaded or lost a race (5xx, timeouts, 429, 409 on writes)."""


class BackendPermanentError(BackendError):
    """Retrying will not help: the system refused the request (4xx); the message says why."""
