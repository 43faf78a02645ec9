"""Namespaces and clusters as the portal records them (the cluster issue makes Kubernetes match)."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.access import access_for
from tenants.models import Cluster, Namespace, Role, Tenant

from .audit import audit_record, snapshot
from .tenants import tenant_ensure_active

AUDITED_FIELDS = ["name", "cluster", "tenant", "state"]

# Namespaces Kubernetes and its distributions keep for themselves.  A tenant-admin given one would
# get the admin role in it, over its privileged service accounts: the whole cluster.  Namespaces
# the cluster has that the portal did not make are refused when reconciled (provisioning.py).
RESERVED_NAMES = frozenset({"default"})
RESERVED_PREFIXES = ("kube-", "openshift")


def is_reserved(name: str) -> bool:
    """Kubernetes' own, and the platform's (``RESERVED_NAMESPACES``: cert-manager, ingress-nginx,
    monitoring… — names an operator will install into, which a tenant must not claim first)."""
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES) or name in settings.RESERVED_NAMESPACES


# The app store's releases point at their namespace (PROTECT). They are reached through the reverse
# relation, by name, so that tenants never imports the app store; "uninstalled" is Helm's status of a
# release whose objects are gone and whose row is kept for its history.
RELEASES_RELATION = "releases"
RELEASE_UNINSTALLED = "uninstalled"


def _releases(namespace: Namespace):
    """The namespace's releases (any status), or None when the app store is not installed."""
    manager = getattr(namespace, RELEASES_RELATION, None)
    return manager.all() if manager is not None else None


def namespace_refuse_if_releases(namespace: Namespace) -> None:
    """409 namespace_has_releases while a release in it is not uninstalled: deleting the namespace
    would delete the release's workloads behind the app store's back, and its row would hold the
    namespace's (PROTECT). The deletion task should ask again before it deletes from the cluster."""
    releases = _releases(namespace)
    if releases is None:
        return
    live = list(releases.exclude(status=RELEASE_UNINSTALLED).order_by("name").values_list("name", "status")[:20])
    if live:
        listed = ", ".join(f"{name} ({status})" for name, status in live)
        raise Conflict(f"Namespace '{namespace.name}' still has releases: {listed}. Uninstall them first, then "
                       "delete the namespace.",
                       code="namespace_has_releases", releases=[name for name, _ in live])


def namespace_create(*, tenant: Tenant, cluster: Cluster, name: str, actor) -> Namespace:
    if not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to create namespaces.")
    tenant_ensure_active(tenant)
    if is_reserved(name):
        raise InvalidInput(f"Namespace '{name}' is reserved for the cluster itself: 'default', names starting with "
                           f"'kube-' or 'openshift' and the platform's own namespaces are not given to tenants.",
                           code="namespace_reserved", field="name")
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
            transaction.on_commit(lambda: _reconcile_soon(namespace.pk))
    except IntegrityError:
        raise InvalidInput(f"Namespace '{name}' already exists in cluster '{cluster.name}'.",
                           code="namespace_taken", field="name") from None
    return namespace


def namespace_delete(*, namespace: Namespace, actor, confirm: str):
    """Deleting a namespace destroys its workloads, so the caller must type its name to confirm.

    The row is marked deleting at once (nothing new starts in it); a task removes the
    namespace from the cluster and then the row. Returns that Operation.
    """
    from .operations import operation_create

    if not access_for(actor).has_role(namespace.tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(
            f"You need the tenant-admin role on '{namespace.tenant.full_slug}' to delete namespaces.")
    if confirm != namespace.name:
        raise InvalidInput(f"To delete namespace '{namespace.name}', confirm with its exact name.",
                           code="confirmation_required", field="confirm")
    with transaction.atomic():
        # The row lock orders this check with a release being created in the namespace (its foreign key
        # takes a share lock on the same row).
        Namespace.objects.select_for_update().filter(pk=namespace.pk).values_list("pk").first()
        namespace_refuse_if_releases(namespace)
        before = snapshot(namespace, AUDITED_FIELDS)
        namespace.state = Namespace.State.DELETING
        namespace.save(update_fields=["state"])
        audit_record(actor=actor, action="namespace.delete", target=namespace, tenant=namespace.tenant,
                     before=before, after=snapshot(namespace, AUDITED_FIELDS))
        operation, _ = operation_create(type="namespace.delete", actor=actor, tenant=namespace.tenant,
                                        target=namespace)
    return operation


def namespace_reconcile_request(*, namespace: Namespace, actor, idempotency_key: str = ""):
    """"Reconcile now": an Operation the caller can poll."""
    from .operations import operation_create

    if not access_for(actor).has_role(namespace.tenant, Role.MEMBER):
        raise PermissionDenied(f"You need at least the member role on '{namespace.tenant.full_slug}'.")
    if namespace.state == Namespace.State.DELETING:
        raise Conflict(f"Namespace '{namespace.name}' is being deleted.", code="namespace_deleting")
    operation, _ = operation_create(type="namespace.reconcile", actor=actor, tenant=namespace.tenant,
                                    target=namespace, idempotency_key=idempotency_key)
    return operation


def namespace_remove(*, namespace: Namespace) -> None:
    """The deletion task's last step: the cluster no longer has it, so the row goes too.

    Uninstalled releases go with it (their rows cannot outlive their namespace); the audit event
    names them. A release that is not uninstalled (one installed while the deletion was queued)
    refuses the removal with 409 and the namespace says why, instead of a ProtectedError.
    """
    try:
        with transaction.atomic():
            Namespace.objects.select_for_update().filter(pk=namespace.pk).values_list("pk").first()
            namespace_refuse_if_releases(namespace)
            releases = _releases(namespace)
            releases = releases.filter(status=RELEASE_UNINSTALLED) if releases is not None else None
            gone = sorted(releases.values_list("name", flat=True)) if releases is not None else []
            audit_record(actor=None, action="namespace.removed", target=namespace, tenant=namespace.tenant,
                         before={**snapshot(namespace, AUDITED_FIELDS), "uninstalled_releases": gone})
            if gone:
                releases.delete()
            namespace.delete()
    except Conflict as exc:
        Namespace.objects.filter(pk=namespace.pk).update(sync_state="error", sync_message=exc.detail[:2000])
        raise


def _reconcile_soon(namespace_id: int) -> None:
    from tenants.tasks import namespace_reconcile_task

    namespace_reconcile_task.delay(namespace_id)
