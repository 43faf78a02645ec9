"""Who may do what on a tenant: a user or a group holds a role, optionally for the subtree."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from .scoping import TenantOwnedQuerySet


class Role(models.TextChoices):
    TENANT_ADMIN = "tenant-admin", "Tenant admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# Roles are ordered: a role includes everything the roles below it allow.
ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.TENANT_ADMIN: 3}


class Membership(models.Model):
    """A direct role binding on a tenant; ``inherited`` extends it to the whole subtree."""

    class Source(models.TextChoices):
        PORTAL = "portal"
        KEYSTONE = "keystone"
        IDP = "idp"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="tenant_memberships")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="tenant_memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    inherited = models.BooleanField(default=False, help_text="Also applies to every tenant below.")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PORTAL)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False, group__isnull=True)
                           | models.Q(user__isnull=True, group__isnull=False)),
                name="membership_exactly_one_subject",
            ),
            models.UniqueConstraint(fields=["tenant", "user"], condition=models.Q(user__isnull=False),
                                    name="membership_one_per_user"),
            models.UniqueConstraint(fields=["tenant", "group"], condition=models.Q(group__isnull=False),
                                    name="membership_one_per_group"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_name} is {self.role} of {self.tenant_id}"

    @property
    def subject_name(self) -> str:
        return f"user:{self.user.username}" if self.user_id else f"group:{self.group.name}"
