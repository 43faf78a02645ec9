"""Releases (an app version installed into a tenant namespace) and their revision history."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from tenants.models.scoping import TenantOwnedQuerySet

RELEASE_NAME = RegexValidator(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                              "A release name is a DNS-1123 label: lower-case letters, digits and '-'.")


class ReleaseStatus(models.TextChoices):
    """Helm's release statuses (the ones a portal release can be in)."""

    PENDING_INSTALL = "pending-install"
    DEPLOYED = "deployed"
    FAILED = "failed"
    PENDING_UPGRADE = "pending-upgrade"
    PENDING_ROLLBACK = "pending-rollback"
    UNINSTALLING = "uninstalling"
    UNINSTALLED = "uninstalled"
    SUPERSEDED = "superseded"


class Release(models.Model):
    """An app version installed into one namespace of the release's tenant."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="releases")
    namespace = models.ForeignKey("tenants.Namespace", on_delete=models.PROTECT, related_name="releases")
    name = models.CharField(max_length=53, validators=[RELEASE_NAME])
    app = models.ForeignKey("appstore.App", on_delete=models.PROTECT, related_name="releases")
    current_version = models.ForeignKey("appstore.AppVersion", on_delete=models.PROTECT, related_name="+")
    user_values = models.JSONField(default=dict, blank=True, help_text="Only the user's overrides.")
    status = models.CharField(max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.PENDING_INSTALL)
    current_revision = models.PositiveIntegerField(default=0)
    locked_by = models.ForeignKey("tenants.Operation", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", help_text="The operation in flight, if any.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["namespace_id", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="release_name_unique_per_namespace")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ReleaseRevision(models.Model):
    """One step of a release's history: what was (to be) applied, with which values, and how it ended."""

    class Kind(models.TextChoices):
        INSTALL = "install"
        UPGRADE = "upgrade"
        ROLLBACK = "rollback"
        UNINSTALL = "uninstall"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    app_version = models.ForeignKey("appstore.AppVersion", on_delete=models.PROTECT, related_name="+")
    user_values = models.JSONField(default=dict, blank=True)
    manifest = models.TextField(blank=True)
    manifest_digest = models.CharField(max_length=64, blank=True)
    kinds = models.JSONField(default=list, blank=True, help_text="[apiVersion, kind] pairs the manifest holds.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.PENDING_INSTALL)
    description = models.CharField(max_length=300, blank=True)
    operation = models.ForeignKey("tenants.Operation", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["release_id", "-revision"]
        constraints = [models.UniqueConstraint(fields=["release", "revision"], name="release_revision_unique")]

    def __str__(self) -> str:
        return f"{self.release_id}#{self.revision} {self.kind} {self.status}"
