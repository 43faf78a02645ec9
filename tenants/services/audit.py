"""Recording audit events; called by every other service inside its transaction."""

from __future__ import annotations

from typing import Any

from bluedock_portal.context import request_id
from tenants.models import AuditEvent

_SECRET_MARKERS = ("password", "secret", "token", "credential", "private_key", "api_key")
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """Replace anything that looks like a secret, at any depth, before it is stored."""
    if isinstance(value, dict):
        return {k: REDACTED if any(m in str(k).lower() for m in _SECRET_MARKERS) else redact(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def snapshot(instance, fields: list[str]) -> dict[str, Any]:
    return {name: _jsonable(getattr(instance, name)) for name in fields}


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def audit_record(*, actor, action: str, target, tenant=None, before=None, after=None,
                 result: str = AuditEvent.Result.SUCCESS, reason: str = "") -> AuditEvent:
    """Append one audit event. ``actor`` None means the system (a task or a sync)."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None and actor.is_authenticated else "system",
        action=action,
        target_type=type(target)._meta.label_lower if hasattr(target, "_meta") else str(type(target).__name__),
        target_id=str(getattr(target, "pk", "") or ""),
        target_repr=str(target)[:200],
        tenant=tenant,
        tenant_path=getattr(tenant, "path", "") or "",
        before=redact(before),
        after=redact(after),
        result=result,
        reason=reason,
        request_id=request_id.get(),
    )


def audit_denied(*, actor, method: str, path: str, reason: str) -> AuditEvent | None:
    """Record a refused change (403), so operators see who tried what. Reads are not recorded."""
    if actor is None or not actor.is_authenticated or method in {"GET", "HEAD", "OPTIONS"}:
        return None
    return AuditEvent.objects.create(
        actor=actor, actor_name=actor.get_username(), action="request.denied", target_type="http",
        target_id="", target_repr=f"{method} {path}"[:200], result=AuditEvent.Result.DENIED, reason=reason,
        request_id=request_id.get(),
    )
