"""Domain errors raised by services and rendered as problem+json by the API.

Each carries a machine-readable ``code`` and the facts a user needs to act
(``extra``), so the API, the UI and audit all tell the same story.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    code = "invalid"
    title = "Invalid request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class InvalidInput(ServiceError):
    """The request is well-formed but breaks a rule (quota, tree, membership)."""


class PermissionDenied(ServiceError):
    status = 403
    code = "permission_denied"
    title = "Permission denied"


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    title = "Conflict"


class BackendUnavailable(ServiceError):
    status = 503
    code = "backend_unavailable"
    title = "A backing service is unavailable"
