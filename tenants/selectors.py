"""Reads, always answered for a given user."""

from __future__ import annotations

from django.db.models import Q

from .access import access_for
from .models import AuditEvent, Membership, Tenant


def tenant_list(*, user):
    return Tenant.objects.visible_to(user)


def tenant_get(*, user, pk) -> Tenant:
    """The tenant if the user may see it; otherwise Tenant.DoesNotExist (404, never 403)."""
    return tenant_list(user=user).get(pk=pk)


def tenant_ancestors(*, tenant: Tenant, user) -> list[Tenant]:
    access = access_for(user)
    return [t for t in Tenant.objects.filter(path__in=tenant.ancestor_paths()) if access.can_see(t)]


def tenant_subtree(*, tenant: Tenant, user, max_depth: int | None = None):
    qs = tenant_list(user=user).filter(path__startswith=tenant.path)
    if max_depth is not None:
        qs = qs.filter(depth__lte=tenant.depth + max_depth)
    return qs


def membership_effective_list(*, tenant: Tenant) -> list[dict]:
    """Every binding that reaches ``tenant``, with where it comes from; group bindings list their members."""
    rows = (Membership.objects.filter(Q(tenant=tenant) | Q(inherited=True, tenant__path__in=tenant.ancestor_paths()))
            .select_related("user", "group", "tenant").prefetch_related("group__user_set").order_by("tenant__depth"))
    result = []
    for m in rows:
        origin = "direct" if m.tenant_id == tenant.pk else "inherited"
        entry = {
            "membership": m.pk, "role": m.role, "origin": origin, "inherited": m.inherited,
            "from_tenant": {"id": m.tenant_id, "path": m.tenant.full_slug}, "source": m.source,
        }
        if m.user_id:
            entry["subject"] = {"type": "user", "name": m.user.username}
        else:
            entry["subject"] = {"type": "group", "name": m.group.name,
                                "members": sorted(u.username for u in m.group.user_set.all())}
        result.append(entry)
    return result


def audit_event_list(*, user, tenant: Tenant | None = None):
    qs = AuditEvent.objects.visible_to(user).select_related("tenant")
    if tenant is not None:
        qs = qs.filter(tenant_path__startswith=tenant.path)
    return qs
