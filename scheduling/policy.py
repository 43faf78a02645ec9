"""Operators change the scheduling engine's policy: per tenant, and cluster-wide.

Only operators (staff) may change either. A tenant's weight, tier, fence and preemption rights
decide how much of *other* tenants' idle or borrowed capacity it gets, so they are a contract
between tenants that the platform keeps, not something a tenant sets for itself; tenants read
theirs (``GET /api/v1/tenants/{id}/scheduling-policy/``).

A change is refused whole, with nothing written (the spirit of P18), when a field is out of
range (``policy_input``), when it combines with the rest into something the specification
disallows (borrow-preemption while fair-share preemption is on: ``policy_conflict``), or when the
engine's own validation (``validate_config``) finds a violation the stored policy does not
already have (``engine_rejected``). Each saved change records an audit event with before/after.
"""

from __future__ import annotations

from django.db import connection, transaction

from bluedock_portal.errors import InvalidInput, PermissionDenied
from scheduling.engine.validate import validate_config
from tenants.access import access_for
from tenants.models import Tenant
from tenants.services.audit import audit_record

from .models import SchedulingSettings, TenantSchedulingPolicy
from .policy_config import policy_as_dict, settings_as_dict
from .snapshot import build_config


def tenant_policy_get(*, tenant: Tenant) -> TenantSchedulingPolicy:
    """The tenant's policy row, or an unsaved one holding the engine's defaults."""
    return TenantSchedulingPolicy.objects.filter(tenant=tenant).first() or TenantSchedulingPolicy(tenant=tenant)


def scheduling_settings_get() -> SchedulingSettings:
    """The settings row, or an unsaved one holding the engine's defaults."""
    return SchedulingSettings.objects.filter(pk=SchedulingSettings.SINGLETON).first() or SchedulingSettings()


def tenant_policy_update(*, tenant: Tenant, changes: dict, actor) -> TenantSchedulingPolicy:
    """Apply ``changes`` (model field → parsed value, see ``policy_input``); other fields keep their value."""
    require_operator(actor, "change a tenant's scheduling policy")
    with transaction.atomic():
        _serialise_policy_writes()
        policy = TenantSchedulingPolicy.objects.filter(tenant=tenant).first() or TenantSchedulingPolicy(tenant=tenant)
        before = policy_as_dict(policy)  # without a row: the engine's defaults, which were in force
        for name, value in changes.items():
            setattr(policy, name, value)
        tenant_policy_check(policy)
        policy.save()
        audit_record(actor=actor, action="scheduling.policy_update", target=policy, tenant=tenant, before=before,
                     after=policy_as_dict(policy))
    return policy


def scheduling_settings_update(*, changes: dict, actor) -> SchedulingSettings:
    """Apply ``changes`` to the cluster-wide settings (created with the defaults on first change)."""
    require_operator(actor, "change the scheduling settings")
    with transaction.atomic():
        _serialise_policy_writes()
        row = scheduling_settings_get()
        row.pk = SchedulingSettings.SINGLETON
        before = settings_as_dict(row)
        for name, value in changes.items():
            setattr(row, name, value)
        settings_check(row)
        row.save()
        audit_record(actor=actor, action="scheduling.settings_update", target=row, before=before,
                     after=settings_as_dict(row))
    return row


def tenant_policy_check(policy: TenantSchedulingPolicy) -> None:
    """Refuse a policy (not yet saved) that conflicts with the settings or that the engine would reject."""
    if policy.borrow_preempt_policy != "Never" and scheduling_settings_get().fair_share_preemption:
        raise InvalidInput(
            "borrow_preempt.policy: borrow-preemption is disallowed while fair-share preemption is on "
            "(fair share already decides which borrower yields); turn fair_share_preemption off first.",
            code="policy_conflict", field="borrow_preempt.policy")
    _engine_check(policy_overrides={policy.tenant_id: policy})


def settings_check(row: SchedulingSettings) -> None:
    """Refuse settings (not yet saved) that conflict with tenants' policies or that the engine would reject."""
    if row.fair_share_preemption:
        borrowers = list(TenantSchedulingPolicy.objects.exclude(borrow_preempt_policy="Never")
                         .values_list("tenant__full_slug", flat=True)[:10])
        if borrowers:
            raise InvalidInput(
                f"fair_share_preemption: tenants {', '.join(borrowers)} use borrow-preemption, which is disallowed "
                "while fair-share preemption is on; set their borrow_preempt.policy to Never first.",
                code="policy_conflict", field="fair_share_preemption", tenants=borrowers)
    _engine_check(settings_row=row)


def _engine_check(**overrides) -> None:
    """The engine's validation (V1–V4) of the config with the change, against the config without it.

    Only new violations refuse the change: a policy change must not be blocked by, say, resource
    plans that are already inconsistent (the cycle keeps the last valid config in force for those)."""
    before = set(validate_config(build_config(capacity={}, version=0)[0]))
    after = validate_config(build_config(capacity={}, version=0, **overrides)[0])
    new = [v for v in after if v not in before]
    if new:
        raise InvalidInput("The scheduling engine would refuse the resulting configuration: "
                           + "; ".join(f"{rule} {message}" for rule, message in new) + ". Nothing was saved.",
                           code="engine_rejected", violations=[{"rule": r, "message": m} for r, m in new])


POLICY_LOCK = 0x5C4EE  # advisory lock key of policy and settings writes (the cycle uses 0x5C4ED)


def _serialise_policy_writes() -> None:
    """One policy or settings change at a time, until the transaction ends: the conflict check reads
    the settings while saving a policy (and the reverse), so two concurrent operators must not both
    pass it; rows that do not exist yet cannot be locked with SELECT … FOR UPDATE."""
    if connection.vendor == "postgresql":  # SQLite (make run) serialises writers anyway
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK])


def require_operator(actor, action: str) -> None:
    if not access_for(actor).is_operator:
        # Shares are a contract between tenants: a tenant may not raise its own weight or rights.
        raise PermissionDenied(f"Only platform operators may {action}; shares are a contract between tenants.")
