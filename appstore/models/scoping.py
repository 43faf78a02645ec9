"""Catalog visibility: global rows for every signed-in user, tenant rows for the owner's subtree.

A tenant-scoped repository (and so its apps and versions) is visible to anyone who can
see the owner tenant (members, and admins of an ancestor with inherited roles) and to
members of any tenant *below* it: a team's charts serve its sub-projects too. Both are
answered from the user's grants, without extra queries.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

STEPLEN = 4
ALL = Q(pk__isnull=False)  # tenants.Tenant.steplen (treebeard path segment length)


def catalog_q(user, lookup: str) -> Q:
    from tenants.access import access_for

    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    access = access_for(user)
    if access.is_operator:
        return ALL  # not Q(): an empty Q vanishes when OR-ed with another
    ancestors = sorted({g.path[: i * STEPLEN] for g in access.grants for i in range(1, len(g.path) // STEPLEN)})
    q = Q(**{f"{lookup}__isnull": True}) | access.visible_q(lookup)
    if ancestors:
        q |= Q(**{f"{lookup}__path__in": ancestors})
    return q


class CatalogQuerySet(models.QuerySet):
    #: The lookup from this model to its owner tenant (null = global).
    tenant_lookup = "tenant"

    def visible_to(self, user):
        return self.filter(catalog_q(user, self.tenant_lookup))
