"""What one user may see and do, computed once per request from their memberships.

Effective roles on tenant T = direct bindings on T ∪ ``inherited`` bindings on T's
ancestors ∪ the same for the user's groups. Everything here is answered from one
query of the user's memberships (with their tenants' paths), so visibility costs a
constant number of queries however large the tree is.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.db.models import Q

from .models.memberships import ROLE_RANK, Membership, Role


@dataclass(frozen=True)
class Grant:
    tenant_id: int
    path: str
    role: str
    inherited: bool
    via: str  # "user" or "group:<name>"


@dataclass
class Access:
    user_id: int | None
    is_operator: bool
    grants: list[Grant] = field(default_factory=list)

    def visible_q(self, lookup: str = "tenant") -> Q:
        """A filter for rows whose tenant (reached through ``lookup``) this user may see."""
        prefix = f"{lookup}__" if lookup else ""
        if self.is_operator:
            return Q()
        if not self.grants:
            return Q(pk__in=[])
        direct = {g.tenant_id for g in self.grants if not g.inherited}
        q = Q(**{f"{prefix}id__in": sorted(direct)}) if direct else Q(pk__in=[])
        for path in sorted({g.path for g in self.grants if g.inherited}):
            q |= Q(**{f"{prefix}path__startswith": path})
        return q

    def grants_on(self, tenant) -> list[Grant]:
        return [g for g in self.grants
                if g.tenant_id == tenant.pk or (g.inherited and tenant.path.startswith(g.path))]

    def role_on(self, tenant) -> str | None:
        """The strongest effective role on ``tenant`` (operators act as tenant admins)."""
        if self.is_operator:
            return Role.TENANT_ADMIN
        grants = self.grants_on(tenant)
        if not grants:
            return None
        return max((g.role for g in grants), key=lambda r: ROLE_RANK[r])

    def can_see(self, tenant) -> bool:
        return self.is_operator or bool(self.grants_on(tenant))

    def has_role(self, tenant, role: str) -> bool:
        held = self.role_on(tenant)
        return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def _load(user) -> Access:
    if user is None or not user.is_authenticated:
        return Access(user_id=None, is_operator=False)
    is_operator = bool(user.is_staff or user.is_superuser)
    if is_operator:
        return Access(user_id=user.pk, is_operator=True)
    rows = (
        Membership.objects.filter(Q(user_id=user.pk) | Q(group__user=user.pk))
        .values_list("tenant_id", "tenant__path", "role", "inherited", "user_id", "group__name")
        .distinct()
    )
    grants = [Grant(t, p, r, i, "user" if u else f"group:{g}") for t, p, r, i, u, g in rows]
    return Access(user_id=user.pk, is_operator=False, grants=grants)


def access_for(user) -> Access:
    """The user's Access, cached on the user object for the rest of the request."""
    if user is None:
        return Access(user_id=None, is_operator=False)
    cached = getattr(user, "_bluedock_access", None)
    if cached is None:
        cached = _load(user)
        with contextlib.suppress(AttributeError):  # AnonymousUser is fine to reload
            user._bluedock_access = cached
    return cached


def forget_access(user) -> None:
    """Drop the cached Access after the user's memberships changed."""
    if hasattr(user, "_bluedock_access"):
        del user._bluedock_access
