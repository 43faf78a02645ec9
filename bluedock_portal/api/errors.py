"""RFC 7807 problem+json for every API error.

Every error body has ``type``, ``title``, ``status``, ``detail`` and a
machine-readable ``code``; field errors add ``errors`` keyed by field, domain
errors add the facts from :class:`~bluedock_portal.errors.ServiceError.extra`.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from bluedock_portal.errors import ServiceError

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DRF_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.ParseError: ("parse_error", "Malformed request body"),
    exceptions.Throttled: ("throttled", "Too many requests"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
}


def problem(status_code: int, code: str, title: str, detail: str, **extra) -> Response:
    body = {"type": f"https://bluedock.io/problems/{code}", "title": title, "status": status_code,
            "detail": detail, "code": code}
    body.update(extra)
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def _audit_if_denied(exc, context) -> None:
    request = context.get("request")
    if request is None or getattr(exc, "status", getattr(exc, "status_code", None)) != 403:
        return
    from tenants.services.audit import audit_denied

    audit_denied(actor=request.user, method=request.method, path=request.path, reason=str(exc.detail))


def problem_exception_handler(exc, context):
    _audit_if_denied(exc, context)
    if isinstance(exc, ServiceError):
        return problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem(status.HTTP_400_BAD_REQUEST, "invalid", "Invalid request", _first_message(errors),
                       errors=errors)
    response = exception_handler(exc, context)
    if response is None:
        return None
    code, title = next(
        ((c, t) for klass, (c, t) in _DRF_CODES.items() if isinstance(exc, klass)),
        (getattr(exc, "default_code", "error"), "Error"),
    )
    detail = str(getattr(exc, "detail", "")) or title
    result = problem(response.status_code, code, title, detail)
    for header in ("WWW-Authenticate", "Allow", "Retry-After"):
        if header in response:
            result[header] = response[header]
    return result
