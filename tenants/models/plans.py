"""Resource plans: what each tenant owns, may use, borrow and lend."""

from __future__ import annotations

from django.db import models

from .scoping import TenantOwnedQuerySet

# Canonical integer units, so values mirror into Keystone unified limits ([-1, 2^31-1]).
RESOURCES = {
    "cpu": "millicores",
    "memory": "MiB",
    "pods": "count",
    "gpu": "count",
}
MAX_QUANTITY = 2_147_483_647


class ResourcePlan(models.Model):
    """One tenant's plan for one resource. No row means owned 0 and no caps of its own."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="plans")
    resource = models.CharField(max_length=16, choices=[(k, f"{k} ({v})") for k, v in RESOURCES.items()])
    owned = models.BigIntegerField(default=0, help_text="Guaranteed to the whole subtree.")
    limit = models.BigIntegerField(null=True, blank=True,
                                   help_text="Hard cap on subtree usage; empty means the ancestors' cap.")
    borrow_limit = models.BigIntegerField(null=True, blank=True,
                                          help_text="How far usage may exceed owned; empty means unbounded.")
    lend_limit = models.BigIntegerField(null=True, blank=True,
                                        help_text="How much of owned others may use; empty means all of it.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "resource"], name="plan_one_per_resource"),
            models.CheckConstraint(condition=models.Q(owned__gte=0), name="plan_owned_non_negative"),
            models.CheckConstraint(condition=models.Q(limit__isnull=True) | models.Q(limit__gte=models.F("owned")),
                                   name="plan_limit_at_least_owned"),
            models.CheckConstraint(condition=models.Q(borrow_limit__isnull=True) | models.Q(borrow_limit__gte=0),
                                   name="plan_borrow_non_negative"),
            models.CheckConstraint(
                condition=models.Q(lend_limit__isnull=True)
                | (models.Q(lend_limit__gte=0) & models.Q(lend_limit__lte=models.F("owned"))),
                name="plan_lend_within_owned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.resource} owned={self.owned} limit={self.limit}"
