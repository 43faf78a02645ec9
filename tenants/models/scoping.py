"""Tenant scoping, enforced once: every tenant-owned queryset has ``visible_to(user)``.

The base API viewset and base UI view call it, so no endpoint can forget.
"""

from __future__ import annotations

from django.db import models


class TenantOwnedQuerySet(models.QuerySet):
    #: The lookup from this model to its tenant ("tenant" for most models).
    tenant_lookup = "tenant"

    def visible_to(self, user):
        from tenants.access import access_for

        return self.filter(access_for(user).visible_q(self.tenant_lookup))
