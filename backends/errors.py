"""The two ways a backing system can fail, as far as callers need to know."""

from __future__ import annotations


class BackendError(Exception):
    def __init__(self, message: str, *, system: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status


class BackendTransientError(BackendError):
    """Unreachable, timed out or a 5xx: the same call may well work later (retry)."""


class BackendPermanentError(BackendError):
    """The system refused the request (4xx): retrying the same call will not help; explain it."""
