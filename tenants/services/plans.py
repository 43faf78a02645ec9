"""Resource plans along the tree: validation of owned/limit/borrow/lend, and the quota report.

The rules (one resource at a time):
- 0 ≤ lend_limit ≤ owned; borrow_limit ≥ 0; limit ≥ owned.
- The children's owned never sum above their parent's owned (guarantees are not over-committed).
- A child's limit never exceeds the strictest limit above it, and a parent's limit never
  drops below a child's.
Lowering a limit below what the subtree already uses is allowed and reported as
``over_limit``: usage is never clamped, only further growth is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, IntegerField, Q, Sum, When

from bluedock_portal.errors import InvalidInput
from tenants.access import access_for
from tenants.models import RESOURCES, NamespaceUsage, ResourcePlan, Tenant

from .audit import audit_record
from .provisioning import namespaces_reconcile_later
from .tenants import _require_admin_over

PLAN_FIELDS = ("owned", "limit", "borrow_limit", "lend_limit")


@dataclass
class PlanValues:
    owned: int = 0
    limit: int | None = None
    borrow_limit: int | None = None
    lend_limit: int | None = None

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in PLAN_FIELDS}


def _plans_by_tenant(tenant_ids) -> dict[int, dict[str, PlanValues]]:
    result: dict[int, dict[str, PlanValues]] = {}
    for row in ResourcePlan.objects.filter(tenant_id__in=list(tenant_ids)).values("tenant_id", "resource",
                                                                                   *PLAN_FIELDS):
        result.setdefault(row["tenant_id"], {})[row["resource"]] = PlanValues(
            **{f: row[f] for f in PLAN_FIELDS})
    return result


def _fail(tenant: Tenant, resource: str, message: str, **facts) -> None:
    raise InvalidInput(message, code="quota_invalid", tenant=tenant.pk, tenant_path=tenant.full_slug,
                       resource=resource, **facts)


def plan_update(*, tenant: Tenant, changes: dict[str, dict[str, int | None]], actor) -> dict:
    """Apply ``changes`` ({resource: {field: value}}; omitted fields keep their value).

    All resources are checked before anything is written, so a rejected request
    changes nothing. Returns the quota report after the change.
    """
    _require_admin_over(actor, tenant.parent, action="change this tenant's plan")
    unknown = sorted(set(changes) - set(RESOURCES))
    if unknown:
        raise InvalidInput(f"Unknown resource '{unknown[0]}'; known resources are {', '.join(RESOURCES)}.",
                           code="unknown_resource", resource=unknown[0])
    with transaction.atomic():
        # Lock the tenant and its ancestors: sibling updates serialise on the shared parent's owned, and
        # a limit lowered above serialises with a limit raised below (each checks the other's rows).
        lock_paths = [*tenant.ancestor_paths(), tenant.path]
        list(Tenant.objects.select_for_update().filter(path__in=lock_paths).order_by("pk").values_list("pk"))
        ancestors = list(Tenant.objects.filter(path__in=tenant.ancestor_paths()))
        descendants = list(Tenant.objects.filter(path__startswith=tenant.path).exclude(pk=tenant.pk))
        children = [t for t in descendants if t.parent_id == tenant.pk]
        siblings = list(Tenant.objects.filter(parent_id=tenant.parent_id).exclude(pk=tenant.pk)) \
            if tenant.parent_id else []
        plans = _plans_by_tenant([tenant.pk] + [t.pk for t in ancestors + descendants + siblings])
        current = plans.get(tenant.pk, {})
        new_values: dict[str, PlanValues] = {}
        for resource, fields in changes.items():
            value = PlanValues(**current.get(resource, PlanValues()).as_dict())
            for name, v in fields.items():
                setattr(value, name, v)
            _validate_one(tenant, resource, value, ancestors, children, siblings, plans, descendants)
            new_values[resource] = value

        for resource, value in new_values.items():
            before = current.get(resource)
            ResourcePlan.objects.update_or_create(tenant=tenant, resource=resource, defaults=value.as_dict())
            audit_record(actor=actor, action="quota.update", target=tenant, tenant=tenant,
                         before={"resource": resource, **before.as_dict()} if before else None,
                         after={"resource": resource, **value.as_dict()})
        # ResourceQuotas take the strictest limit along the ancestors: the whole subtree follows.
        namespaces_reconcile_later(tenant)
    return quota_report(tenant=tenant, user=actor)


def _validate_one(tenant, resource, value: PlanValues, ancestors, children, siblings, plans, descendants) -> None:
    def plan_of(t) -> PlanValues:
        return plans.get(t.pk, {}).get(resource, PlanValues())

    if value.limit is not None and value.limit < value.owned:
        _fail(tenant, resource, f"{resource}: limit {value.limit} is below owned {value.owned}; "
              "a tenant may always use what it owns.", owned=value.owned, limit=value.limit)
    if value.lend_limit is not None and value.lend_limit > value.owned:
        _fail(tenant, resource, f"{resource}: lend_limit {value.lend_limit} is above owned {value.owned}; "
              "a tenant can only lend what it owns.", owned=value.owned, lend_limit=value.lend_limit)
    parent = ancestors[-1] if ancestors else None
    if parent is not None:
        parent_owned = plan_of(parent).owned
        siblings_owned = sum(plan_of(s).owned for s in siblings)
        if siblings_owned + value.owned > parent_owned:
            _fail(tenant, resource,
                  f"{resource}: owned {value.owned} plus its siblings' {siblings_owned} exceeds parent "
                  f"'{parent.full_slug}' owned {parent_owned}.",
                  parent=parent.pk, parent_owned=parent_owned, siblings_owned=siblings_owned,
                  requested=value.owned)
        if value.limit is not None:
            for ancestor in reversed(ancestors):
                cap = plan_of(ancestor).limit
                if cap is not None and value.limit > cap:
                    _fail(tenant, resource,
                          f"{resource}: limit {value.limit} exceeds the limit {cap} of '{ancestor.full_slug}'.",
                          limiting_tenant=ancestor.pk, limiting_path=ancestor.full_slug, parent_limit=cap,
                          requested=value.limit)
    children_owned = sum(plan_of(c).owned for c in children)
    if value.owned < children_owned:
        _fail(tenant, resource, f"{resource}: owned {value.owned} is below the {children_owned} its children "
              "already own; lower theirs first.", children_owned=children_owned, requested=value.owned)
    if value.limit is not None:
        # Every tenant below, not only the children: a child without a limit passes a grandchild's through.
        over = [t for t in descendants if plan_of(t).limit is not None and plan_of(t).limit > value.limit]
        if over:
            below = max(over, key=lambda t: (plan_of(t).limit, -t.depth))
            kind = "child" if below.parent_id == tenant.pk else "descendant"
            _fail(tenant, resource, f"{resource}: limit {value.limit} is below {kind} '{below.full_slug}' limit "
                  f"{plan_of(below).limit}; lower that tenant's limit first.", descendant=below.pk,
                  descendant_path=below.full_slug, descendant_limit=plan_of(below).limit,
                  child_limit=plan_of(below).limit, requested=value.limit)


def _subtree_usage(paths: list[str]) -> dict[str, dict[str, int]]:
    """Usage summed over each given subtree, in one query: {path: {resource: used}}."""
    if not paths:
        return {}
    aggregates = {}
    for i, path in enumerate(paths):
        for resource in RESOURCES:
            aggregates[f"u{i}_{resource}"] = Sum(Case(
                When(Q(namespace__tenant__path__startswith=path, resource=resource), then="used"),
                default=0, output_field=IntegerField()))
    row = NamespaceUsage.objects.aggregate(**aggregates)
    return {path: {r: row[f"u{i}_{r}"] or 0 for r in RESOURCES} for i, path in enumerate(paths)}


def _local_usage(tenant: Tenant) -> dict[str, int]:
    rows = (NamespaceUsage.objects.filter(namespace__tenant=tenant).values("resource")
            .annotate(total=Sum("used")).values_list("resource", "total"))
    return {r: t for r, t in rows}


def quota_report(*, tenant: Tenant, user, pending: dict[str, dict[str, int]] | None = None) -> dict:
    """Plans, usage and headroom for every resource of ``tenant``.

    headroom = min over the tenant and its ancestors a with a limit of (limit(a) − subtree_used(a)).
    The limiting tenant is named only if the user may see it. ``pending`` ({tenant path:
    {resource: amount}}) is work admitted but not yet visible in the usage (e.g. releases
    being installed); it counts as used in every subtree that holds it.
    """
    access = access_for(user)
    ancestors = list(Tenant.objects.filter(path__in=tenant.ancestor_paths()))
    lineage = ancestors + [tenant]
    plans = _plans_by_tenant([t.pk for t in lineage])
    usage = _subtree_usage([t.path for t in lineage])
    for path, amounts in (pending or {}).items():
        for node in lineage:
            if path.startswith(node.path):
                for resource, amount in amounts.items():
                    usage[node.path][resource] += amount
    local = _local_usage(tenant)
    children_owned = dict(
        ResourcePlan.objects.filter(tenant__parent=tenant).values("resource").annotate(total=Sum("owned"))
        .values_list("resource", "total"))
    report = {}
    for resource, unit in RESOURCES.items():
        own = plans.get(tenant.pk, {}).get(resource, PlanValues())
        headroom, limiting, effective_limit = None, None, None
        for node in lineage:
            cap = plans.get(node.pk, {}).get(resource, PlanValues()).limit
            if cap is None:
                continue
            effective_limit = cap if effective_limit is None else min(cap, effective_limit)
            room = cap - usage[node.path][resource]
            if headroom is None or room < headroom:
                headroom, limiting = room, node
        subtree_used = usage[tenant.path][resource]
        report[resource] = {
            "unit": unit,
            **own.as_dict(),
            "used": local.get(resource, 0),
            "subtree_used": subtree_used,
            "children_owned": children_owned.get(resource, 0),
            "effective_limit": effective_limit,
            "headroom": headroom,
            "limiting_tenant": ({"id": limiting.pk, "path": limiting.full_slug}
                                if limiting is not None and access.can_see(limiting) else None),
            "over_limit": own.limit is not None and subtree_used > own.limit,
        }
    return {"tenant": tenant.pk, "model": "subtree-cap", "resources": report}
