"""Who may publish and review in the app store.

Decision: roles come from tenant memberships by default, and an explicit ``AppRole``
grant adds what memberships do not give.

| action                                           | allowed to                                              |
|--------------------------------------------------|---------------------------------------------------------|
| see a global app / repository                    | every signed-in user                                    |
| see a tenant-scoped app / repository of T        | whoever sees T, and members of any tenant below T       |
| see drafts and submitted versions of T           | publishers and reviewers of T                           |
| upload, submit, publish an approved version (T)  | publisher of T: tenant-admin of T (effective), an       |
|                                                  | AppRole publisher on T or an ancestor, or an operator   |
| approve / reject a submitted version (T)         | reviewer of T: AppRole reviewer on T or an ancestor, a  |
|                                                  | platform AppRole reviewer, or an operator               |
| approve a chart with CRDs / cluster-scoped kinds | operators (is_staff) only                               |
| suspend / activate / deprecate a version         | reviewers of its tenant; for global apps, operators and |
|                                                  | platform reviewers                                      |
| add or sync a repository                         | global: operators; tenant-scoped: tenant-admins of T    |

Tenant admins are *not* reviewers by default: a team approving its own uploads would make
review a formality; a reviewer is granted explicitly (per tenant subtree or platform).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from appstore.models.scoping import ALL
from tenants.access import access_for
from tenants.models import Role


@dataclass(frozen=True)
class AppGrants:
    is_operator: bool
    publisher_paths: frozenset[str]
    reviewer_paths: frozenset[str]
    platform_publisher: bool
    platform_reviewer: bool


def grants_for(user) -> AppGrants:
    """The user's app-store roles, loaded once per request (cached on the user)."""
    cached = getattr(user, "_bluedock_app_grants", None)
    if cached is not None:
        return cached
    from .models import AppRole

    if user is None or not user.is_authenticated:
        return AppGrants(False, frozenset(), frozenset(), False, False)
    rows = list(AppRole.objects.filter(Q(user_id=user.pk) | Q(group__user=user.pk))
                .values_list("role", "tenant__path").distinct())
    grants = AppGrants(
        is_operator=bool(user.is_staff or user.is_superuser),
        publisher_paths=frozenset(p for r, p in rows if r == AppRole.Role.PUBLISHER and p),
        reviewer_paths=frozenset(p for r, p in rows if r == AppRole.Role.REVIEWER and p),
        platform_publisher=any(r == AppRole.Role.PUBLISHER and not p for r, p in rows),
        platform_reviewer=any(r == AppRole.Role.REVIEWER and not p for r, p in rows),
    )
    user._bluedock_app_grants = grants
    return grants


def _covers(paths: frozenset[str], tenant) -> bool:
    return any(tenant.path.startswith(p) for p in paths)


def can_publish(user, tenant) -> bool:
    grants = grants_for(user)
    if tenant is None:
        return grants.is_operator
    return (grants.is_operator or grants.platform_publisher or _covers(grants.publisher_paths, tenant)
            or access_for(user).has_role(tenant, Role.TENANT_ADMIN))


def can_review(user, tenant) -> bool:
    grants = grants_for(user)
    if grants.is_operator or grants.platform_reviewer:
        return True
    return tenant is not None and _covers(grants.reviewer_paths, tenant)


def is_operator(user) -> bool:
    return grants_for(user).is_operator


def can_manage_repository(user, tenant) -> bool:
    if tenant is None:
        return is_operator(user)
    return access_for(user).has_role(tenant, Role.TENANT_ADMIN)


def privileged_tenant_q(user, lookup: str = "app__tenant") -> Q:
    """Rows whose unpublished versions the user may see (publisher or reviewer of the tenant)."""
    grants = grants_for(user)
    if grants.is_operator or grants.platform_reviewer or grants.platform_publisher:
        return ALL  # not Q(): an empty Q vanishes when OR-ed with another
    access = access_for(user)
    admin_paths = {g.path for g in access.grants if g.role == Role.TENANT_ADMIN and g.inherited}
    admin_ids = {g.tenant_id for g in access.grants if g.role == Role.TENANT_ADMIN and not g.inherited}
    q = Q(**{f"{lookup}__id__in": sorted(admin_ids)}) if admin_ids else Q(pk__in=[])
    for path in sorted(admin_paths | grants.publisher_paths | grants.reviewer_paths):
        q |= Q(**{f"{lookup}__path__startswith": path})
    return q
