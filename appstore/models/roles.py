"""App-store roles granted on top of tenant memberships (see appstore/permissions.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class AppRole(models.Model):
    """Grants publisher or reviewer to a user or group, on a tenant's subtree or (tenant empty) the platform."""

    class Role(models.TextChoices):
        PUBLISHER = "publisher"
        REVIEWER = "reviewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="app_roles")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="app_roles")
    role = models.CharField(max_length=16, choices=Role.choices)
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="app_roles", help_text="Empty: the whole platform.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=(models.Q(user__isnull=False, group__isnull=True)
                                              | models.Q(user__isnull=True, group__isnull=False)),
                                   name="app_role_exactly_one_subject"),
            # Partial constraints, not nulls_distinct=False: SQLite (make run) cannot enforce that one.
            *[models.UniqueConstraint(fields=[subject, "role", *(["tenant"] if scoped else [])],
                                      condition=models.Q(**{f"{subject}__isnull": False, "tenant__isnull": not scoped}),
                                      name=f"app_role_unique_{subject}_{'tenant' if scoped else 'platform'}")
              for subject in ("user", "group") for scoped in (True, False)],
        ]

    def __str__(self) -> str:
        who = f"user:{self.user_id}" if self.user_id else f"group:{self.group_id}"
        return f"{who} {self.role} on {self.tenant_id or 'platform'}"
