"""Idempotency-Key for release requests: a client that retries gets the first answer, not a second operation.

The key lives on the Operation (unique per actor and type, the mechanism every operation
shares); the request it answered is kept beside it as a fingerprint of what was asked
(action, target, body after defaults). The same key with the same request answers the
same operation, whatever happened since (it may have finished, or the quota may be gone);
the same key with another request is refused, since answering either would be a guess.
"""

from __future__ import annotations

import hashlib
import json

from bluedock_portal.errors import InvalidInput, ServiceError
from tenants.models import Operation

KEY_MAX = 128


class IdempotencyKeyReused(ServiceError):
    """422: the key already answered a different request."""

    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class Replayed(Exception):  # noqa: N818 - control flow, never reaches a client
    """Raised inside a transaction when a concurrent twin committed the key first: roll back, answer its operation."""

    def __init__(self, operation: Operation) -> None:
        super().__init__(operation.pk)
        self.operation = operation


def key_check(key: str) -> str:
    """The header's value, or a clear refusal (printable ASCII, at most 128 characters)."""
    if len(key) > KEY_MAX or not all(33 <= ord(c) < 127 for c in key):
        raise InvalidInput(f"Idempotency-Key must be 1–{KEY_MAX} printable ASCII characters without spaces.",
                           code="idempotency_key_invalid", field="Idempotency-Key")
    return key


def fingerprint(action: str, **request) -> str:
    body = json.dumps({"action": action, **request}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def replayed(*, actor, type: str, key: str, request: str) -> Operation | None:
    """The operation that already answered ``key`` for this request, if any."""
    if not key or actor is None or not actor.is_authenticated:
        return None
    operation = Operation.objects.filter(actor=actor, type=type, idempotency_key=key).first()
    if operation is None:
        return None
    if operation.params.get("request") != request:
        raise IdempotencyKeyReused(f"The Idempotency-Key '{key}' was used for a different request (operation "
                                   f"{operation.pk}); use a new key for a new request.", operation=operation.pk)
    return operation
