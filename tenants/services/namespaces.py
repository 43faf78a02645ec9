"""Namespaces and clusters as the portal records them (the cluster issue makes Kubernetes match)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.access import access_for
from tenants.models import Cluster, Namespace, Role, Tenant

from .audit import audit_record, snapshot
from .tenants import tenant_ensure_active

AUDITED_FIELDS = ["name", "cluster", "tenant", "state"]


def cluster_create(*, name: str, api_url: str, actor, credentials_ref: str = "", description: str = "") -> Cluster:
    if not access_for(actor).is_operator:
        raise PermissionDenied("Only operators may register clusters.")
    if Cluster.objects.filter(name=name).exists():
        raise InvalidInput(f"A cluster named '{name}' already exists.", code="cluster_name_taken", field="name")
    with transaction.atomic():
        cluster = Cluster.objects.create(name=name, api_url=api_url, credentials_ref=credentials_ref,
                                         description=description)
        audit_record(actor=actor, action="cluster.create", target=cluster,
                     after=snapshot(cluster, ["name", "api_url", "credentials_ref"]))
    return cluster


def namespace_create(*, tenant: Tenant, cluster: Cluster, name: str, actor) -> Namespace:
    if not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to create namespaces.")
    tenant_ensure_active(tenant)
    if not cluster.is_active:
        raise Conflict(f"Cluster '{cluster.name}' is not accepting new namespaces.", code="cluster_inactive")
    if Namespace.objects.filter(cluster=cluster, name=name).exists():
        raise InvalidInput(f"Namespace '{name}' already exists in cluster '{cluster.name}'.",
                           code="namespace_taken", field="name")
    try:
        with transaction.atomic():
            namespace = Namespace.objects.create(tenant=tenant, cluster=cluster, name=name, created_by=actor)
            audit_record(actor=actor, action="namespace.create", target=namespace, tenant=tenant,
                         after=snapshot(namespace, AUDITED_FIELDS))
    except IntegrityError:
        raise InvalidInput(f"Namespace '{name}' already exists in cluster '{cluster.name}'.",
                           code="namespace_taken", field="name") from None
    return namespace


def namespace_delete(*, namespace: Namespace, actor, confirm: str) -> None:
    """Deleting a namespace destroys workloads, so the caller must type its name to confirm."""
    if not access_for(actor).has_role(namespace.tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(
            f"You need the tenant-admin role on '{namespace.tenant.full_slug}' to delete namespaces.")
    if confirm != namespace.name:
        raise InvalidInput(f"To delete namespace '{namespace.name}', confirm with its exact name.",
                           code="confirmation_required", field="confirm")
    with transaction.atomic():
        audit_record(actor=actor, action="namespace.delete", target=namespace, tenant=namespace.tenant,
                     before=snapshot(namespace, AUDITED_FIELDS))
        namespace.delete()
