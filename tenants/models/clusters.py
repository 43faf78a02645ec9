"""Clusters and the namespaces tenants own in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .scoping import TenantOwnedQuerySet
from .tree import DNS_LABEL


class Cluster(models.Model):
    """A Kubernetes cluster the portal manages. Credentials are referenced, never stored in clear."""

    name = models.CharField(max_length=63, unique=True, validators=[DNS_LABEL])
    api_url = models.URLField(max_length=400)
    credentials_ref = models.CharField(
        max_length=200, blank=True,
        help_text="Where the credentials live (a mounted secret file or a secret name), not the secret itself.")
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Namespace(models.Model):
    """A Kubernetes namespace, owned by exactly one tenant in exactly one cluster."""

    class State(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        DELETING = "deleting"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="namespaces")
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[DNS_LABEL])
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["cluster_id", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="namespace_unique_per_cluster")]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.name}"


class NamespaceUsageQuerySet(TenantOwnedQuerySet):
    tenant_lookup = "namespace__tenant"


class NamespaceUsage(models.Model):
    """Observed usage of one resource in one namespace (written by the cluster sync)."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="usage")
    resource = models.CharField(max_length=16)
    used = models.BigIntegerField(default=0)
    observed_at = models.DateTimeField(auto_now=True)

    objects = NamespaceUsageQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "resource"], name="usage_one_per_resource")]

    def __str__(self) -> str:
        return f"{self.namespace_id}:{self.resource}={self.used}"
