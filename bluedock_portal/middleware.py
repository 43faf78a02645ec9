"""Request-level guards that run before any view or parser."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.http import HttpResponse

from .context import request_id


class RequestIdMiddleware:
    """Give every request an id (or keep the caller's X-Request-ID) for audit correlation."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming[:64] if incoming else uuid.uuid4().hex
        token = request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class ApiBodyLimitMiddleware:
    """Refuse oversized API bodies with 413 problem+json before anything reads them.

    DRF streams the body into its parsers without Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    check, so the limit is enforced here from Content-Length (and for chunked bodies,
    by reading at most one byte past the limit).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and request.method in {"POST", "PUT", "PATCH"}:
            limit = settings.API_MAX_BODY_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return _too_large(length, limit)
        return self.get_response(request)


def _too_large(length: int, limit: int) -> HttpResponse:
    body = {
        "type": "https://bluedock.io/problems/payload_too_large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"The request body is {length} bytes; the limit is {limit} bytes.",
        "code": "payload_too_large",
        "limit": limit,
    }
    return HttpResponse(json.dumps(body), status=413, content_type="application/problem+json")

