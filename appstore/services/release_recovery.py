"""Getting a release moving again: retry a failed operation, recover a stuck one.

- **Retry** (members): the release's last operation failed. The failed revision runs again,
  same number and same manifest, as a new Operation. Applying is declarative and pruning
  is by label, so a retry converges whatever the failed attempt left behind.
- **Recover** (tenant admins and operators): the release is locked by an operation that will
  not finish by itself — queued or running with no sign of progress for
  ``OPERATION_STUCK_AFTER_SECONDS`` (its worker died or hangs), or already ended without
  settling the release. The operation fails with the admin's reason, the release is unlocked
  and marked failed (so Retry is offered), and the audit trail records who and why. An
  operation that still shows progress cannot be recovered: that would let two workers race.
  A worker that wakes up later finds its operation failed and the lock gone, and changes
  nothing (``releases._finish`` and ``_settle_failure`` only touch a release they still lock).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from appstore.models import Release, ReleaseRevision, ReleaseStatus
from appstore.releases import render
from bluedock_portal.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tenants.access import access_for
from tenants.models import Operation, Role
from tenants.services.audit import audit_record
from tenants.services.operations import operation_create
from tenants.services.tenants import tenant_ensure_active

from .release_quota import manifest_requests, quota_check, release_requests
from .releases import OPERATION_TYPE, PENDING, ReleaseLocked, require_rbac_role

MAX_REASON = 500


def _require_role(actor, release: Release, role: str, verb: str) -> None:
    access = access_for(actor)
    if not access.can_see(release.tenant):
        raise NotFound("Not found.")
    if not access.has_role(release.tenant, role):
        raise PermissionDenied(
            f"You need the {role} role on '{release.tenant.full_slug}' to {verb} a release.",
            code="role_required",
            required_role=role,
            tenant_path=release.tenant.full_slug,
        )


def release_retry(*, actor, release: Release) -> Operation:
    """Run the failed latest revision again (same number, same manifest) as a new operation.

    The revision's quota is checked again, as its request did: while it failed, other releases
    may have taken the headroom it was admitted with (a failed revision reserves nothing)."""
    _require_role(actor, release, Role.MEMBER, "retry")
    tenant_ensure_active(release.tenant)
    release.refresh_from_db(fields=["locked_by", "status"])
    if release.locked_by_id:
        raise ReleaseLocked(
            f"Operation {release.locked_by_id} is in progress on release '{release.name}'.",
            operation=release.locked_by_id,
        )
    latest = release.revisions.order_by("-revision").first()
    if release.status != ReleaseStatus.FAILED or latest is None:
        raise Conflict(
            f"Release '{release.name}' is {release.status}; only a failed release can be retried.",
            code="release_not_failed",
            release_status=release.status,
        )
    try:
        objects = render.split(latest.manifest) if latest.manifest and latest.kind != ReleaseRevision.Kind.UNINSTALL \
            else []
    except render.RenderError as exc:  # a revision stored before today's rules on objects
        raise InvalidInput(f"Revision {latest.revision} cannot be applied again: {exc.detail}", code=exc.code,
                           revision=latest.revision) from None
    require_rbac_role(actor, release.tenant, objects, release=release)
    with transaction.atomic():
        if objects:  # a deferred revision without a manifest runs its whole pre-flight in the worker
            current = {} if latest.kind == ReleaseRevision.Kind.INSTALL else release_requests(release)
            quota_check(tenant=release.tenant, actor=actor, current=current, release_id=release.pk,
                        requested=manifest_requests(objects, cluster_id=release.namespace.cluster_id))
        operation, _ = operation_create(
            type=OPERATION_TYPE,
            actor=actor,
            tenant=release.tenant,
            target=release,
            params={"release": release.pk, "revision": latest.revision, "kind": latest.kind, "retry": True},
        )
        # Compare-and-set on the lock: of two clicks on Retry, one wins and the other is release_locked.
        if not Release.objects.filter(pk=release.pk, locked_by__isnull=True, status=ReleaseStatus.FAILED).update(
            locked_by=operation, status=PENDING[latest.kind]
        ):
            raise ReleaseLocked(f"Another operation is in progress on release '{release.name}'.")
        ReleaseRevision.objects.filter(pk=latest.pk).update(
            status=PENDING[latest.kind], operation=operation, finished_at=None
        )
        audit_record(
            actor=actor,
            action="appstore.release_retry",
            target=release,
            tenant=release.tenant,
            before={"status": ReleaseStatus.FAILED},
            after={"revision": latest.revision, "operation": operation.pk},
        )
    return operation


def stuck_since(operation: Operation, *, now) -> str | None:
    """Why ``operation`` will not settle its release by itself, or None while it may still do so."""
    if operation.state in Operation.TERMINAL:
        return f"it already {operation.state} without releasing the lock"
    deadline = now - timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS)
    if operation.state == Operation.State.QUEUED and operation.created_at < deadline:
        return f"no worker has taken it since {operation.created_at:%Y-%m-%d %H:%M:%S}"
    last = operation.heartbeat_at or operation.started_at or operation.created_at
    if operation.state == Operation.State.RUNNING and last < deadline:
        return f"no progress since {last:%Y-%m-%d %H:%M:%S} (its worker died or hangs)"
    return None


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say why the operation is recovered; the reason goes to the audit trail.",
            code="reason_required",
            field="reason",
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"The reason is {len(reason)} characters; at most {MAX_REASON}.",
            code="reason_too_long",
            field="reason",
            limit=MAX_REASON,
        )
    return reason


def release_recover(*, actor, release: Release, reason: str, now=None) -> Release:
    """Fail the release's stuck operation with ``reason``, unlock the release and mark it failed; audited."""
    _require_role(actor, release, Role.TENANT_ADMIN, "recover")
    reason = _require_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Release.objects.select_for_update(of=("self",)).select_related("locked_by").get(pk=release.pk)
        operation = locked.locked_by
        if operation is None:
            raise Conflict(
                f"Release '{release.name}' has no operation in flight; nothing to recover.",
                code="release_not_locked",
                release_status=locked.status,
            )
        why = stuck_since(operation, now=now)
        if why is None:
            after = (operation.heartbeat_at or operation.created_at) + timedelta(
                seconds=settings.OPERATION_STUCK_AFTER_SECONDS
            )
            raise Conflict(
                f"Operation {operation.pk} is {operation.state} and made progress recently; it can be "
                f"recovered if it shows none until {after:%Y-%m-%d %H:%M:%S} UTC.",
                code="operation_active",
                operation=operation.pk,
                state=operation.state,
                recoverable_after=after.isoformat(),
            )
        message = f"Recovered by {actor.get_username()}: {reason}"
        # Only if it is still as stuck as we saw it: a worker that claims it or shows progress meanwhile wins,
        # and nothing here is written (the exception rolls the transaction back).
        if operation.state not in Operation.TERMINAL and not Operation.objects.filter(
            pk=operation.pk, state=operation.state, heartbeat_at=operation.heartbeat_at
        ).update(state=Operation.State.FAILED, error_code="recovered", error_message=message, finished_at=now):
            raise Conflict(
                f"Operation {operation.pk} just made progress; it is not stuck.",
                code="operation_active",
                operation=operation.pk,
            )
        before = {"status": locked.status, "locked_by": operation.pk, "operation_state": operation.state}
        Release.objects.filter(pk=release.pk, locked_by=operation).update(locked_by=None, status=ReleaseStatus.FAILED)
        ReleaseRevision.objects.filter(release=release, operation=operation, finished_at__isnull=True).update(
            status=ReleaseStatus.FAILED, finished_at=now, description=f"{message[:250]} — retry to converge"
        )
        audit_record(
            actor=actor,
            action="appstore.release_recover",
            target=release,
            tenant=release.tenant,
            before=before,
            after={"status": ReleaseStatus.FAILED, "locked_by": None, "why": why},
            reason=reason,
        )
    release.refresh_from_db()
    return release
