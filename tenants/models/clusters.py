"""Clusters and the namespaces tenants own in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .scoping import TenantOwnedQuerySet
from .tree import DNS_LABEL


class Cluster(models.Model):
    """A Kubernetes cluster the portal manages. Credentials are encrypted at rest or read from a mounted file."""

    class Health(models.TextChoices):
        UNKNOWN = "unknown"
        HEALTHY = "healthy"
        UNREACHABLE = "unreachable"
        REFUSED = "refused"

    name = models.CharField(max_length=63, unique=True, validators=[DNS_LABEL])
    api_url = models.URLField(max_length=400)
    credentials_ref = models.CharField(
        max_length=200, blank=True,
        help_text="A mounted kubeconfig file to read credentials from, instead of storing them.")
    # Fernet ciphertext of the credentials (bluedock_portal.secrets); never shown again after registration.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_message = models.CharField(max_length=500, blank=True)
    server_version = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    inventory_synced_at = models.DateTimeField(null=True, blank=True)
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
    sync_state = models.CharField(max_length=16, default="pending",
                                  help_text="pending, synced or error: does the cluster match the portal?")
    sync_message = models.TextField(blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
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


class ClusterNode(models.Model):
    """A node as last seen in its cluster (synced by the inventory task). Quantities are canonical ints."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=253)
    capacity = models.JSONField(default=dict)
    allocatable = models.JSONField(default=dict)
    requested = models.JSONField(default=dict, help_text="Sum of the requests of pods bound to the node.")
    labels = models.JSONField(default=dict)
    taints = models.JSONField(default=list)
    ready = models.BooleanField(default=False)
    unschedulable = models.BooleanField(default=False)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster_id", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="node_unique_per_cluster")]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.name}"


class ManagedObjectQuerySet(TenantOwnedQuerySet):
    tenant_lookup = "namespace__tenant"


class ManagedObject(models.Model):
    """An object the portal keeps in a namespace (quota, limits, role bindings, network policy)."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="managed_objects")
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    name = models.CharField(max_length=253)
    digest = models.CharField(max_length=64, help_text="sha256 of the desired manifest last applied.")
    state = models.CharField(max_length=16, default="synced", help_text="synced, error or pruned")
    message = models.TextField(blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    objects = ManagedObjectQuerySet.as_manager()

    class Meta:
        ordering = ["namespace_id", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "kind", "name"], name="managed_object_unique")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"
