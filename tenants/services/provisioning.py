"""Namespace provisioning as reconciliation: make each namespace's cluster objects match the portal.

A pass is idempotent: it server-side-applies every desired object (repairing edits made
by hand), prunes managed objects that are no longer desired, and never touches objects
without the managed label. It may be interrupted at any point and simply run again.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from backends.errors import BackendError, BackendTransientError
from bluedock_portal.errors import Conflict, NotFound
from tenants import selectors
from tenants.models import ManagedObject, Namespace, Operation, ResourcePlan, Tenant
from tenants.provisioning import desired as d

from .clusters import cluster_backend
from .namespaces import namespace_refuse_if_releases, namespace_remove
from .operations import operation_progress, operation_run


def namespace_facts(namespace: Namespace) -> d.NamespaceFacts:
    tenant = namespace.tenant
    lineage_paths = [*tenant.ancestor_paths(), tenant.path]
    hard: dict[str, int] = {}
    for resource, limit in ResourcePlan.objects.filter(tenant__path__in=lineage_paths, limit__isnull=False) \
            .values_list("resource", "limit"):
        hard[resource] = min(limit, hard.get(resource, limit))
    bindings = []
    entries = selectors.membership_effective_list(tenant=tenant)
    kube_names = kubernetes_usernames([e["subject"]["name"] for e in entries if e["subject"]["type"] == "user"])
    for entry in entries:
        subject = entry["subject"]
        if subject["type"] == "user":
            name = settings.KUBERNETES_USER_PREFIX + kube_names[subject["name"]]
            bindings.append(d.Binding(entry["role"], "User", name))
        else:
            bindings.append(d.Binding(entry["role"], "Group", settings.KUBERNETES_GROUP_PREFIX + subject["name"]))
    return d.NamespaceFacts(
        name=namespace.name, tenant_id=tenant.pk, tenant_path=tenant.full_slug,
        keystone_project_id=tenant.keystone_project_id or "", quota_hard=hard, bindings=tuple(bindings),
        default_request=settings.NAMESPACE_DEFAULT_REQUEST, default_limit=settings.NAMESPACE_DEFAULT_LIMIT)


def kubernetes_usernames(usernames: list[str]) -> dict[str, str]:
    """Portal username → the name the clusters know the user by (KUBERNETES_USERNAME_CLAIM). A user
    without an SSO identity (or an email, for "email") keeps the portal username."""
    claim = settings.KUBERNETES_USERNAME_CLAIM
    names = {name: name for name in usernames}
    if claim == "username" or not usernames:
        return names
    for user in get_user_model().objects.filter(username__in=usernames).prefetch_related("oidc_identities"):
        if claim == "sub":
            identity = min(user.oidc_identities.all(), key=lambda i: i.pk, default=None)
            if identity is not None:
                names[user.username] = identity.subject
        elif user.email:
            names[user.username] = user.email
    return names


def namespace_reconcile(*, namespace: Namespace, progress=None) -> dict:
    """One reconciliation pass for one namespace; returns what it applied and pruned.

    Backend errors propagate (transient ones are retried by the task); the namespace's
    sync state records the last outcome for the UI.
    """
    facts = namespace_facts(namespace)
    backend = cluster_backend(namespace.cluster)
    wanted = d.desired_objects(facts)
    summary = {"applied": [], "pruned": []}
    try:
        _refuse_unless_ours(backend, namespace)
        backend.ensure_namespace(namespace.name, labels=d.namespace_labels(facts),
                                 annotations={"bluedock.io/tenant-name": namespace.tenant.name})
        for index, manifest in enumerate(wanted, start=1):
            backend.apply(manifest)
            ManagedObject.objects.update_or_create(
                namespace=namespace, kind=manifest["kind"], name=manifest["metadata"]["name"],
                defaults={"api_version": manifest["apiVersion"], "digest": d.digest(manifest), "state": "synced",
                          "message": ""})
            summary["applied"].append(f"{manifest['kind']}/{manifest['metadata']['name']}")
            if progress:
                progress(int(80 * index / len(wanted)), f"applied {manifest['kind']}/{manifest['metadata']['name']}")
        wanted_keys = {(m["kind"], m["metadata"]["name"]) for m in wanted}
        for api_version, kind in d.MANAGED_KINDS:
            for obj in backend.list(api_version, kind, namespace=namespace.name,
                                    label_selector=f"{d.MANAGED_LABEL}=true"):
                name = obj["metadata"]["name"]
                if (kind, name) not in wanted_keys:
                    backend.delete(api_version, kind, name, namespace=namespace.name)
                    summary["pruned"].append(f"{kind}/{name}")
        ManagedObject.objects.filter(namespace=namespace).exclude(
            pk__in=[m.pk for m in ManagedObject.objects.filter(namespace=namespace)
                    if (m.kind, m.name) in wanted_keys]).delete()
    except BackendError as exc:
        Namespace.objects.filter(pk=namespace.pk).update(sync_state="error", sync_message=str(exc)[:2000],
                                                         reconciled_at=timezone.now())
        raise
    Namespace.objects.filter(pk=namespace.pk).update(state=Namespace.State.ACTIVE, sync_state="synced",
                                                     sync_message="", reconciled_at=timezone.now())
    return summary


def _refuse_unless_ours(backend, namespace: Namespace) -> None:
    """A namespace the cluster already has is reconciled only if the portal made it for this
    tenant: applying to another would label it as the tenant's, bind the tenant's admins in it
    (``kube-system``'s service accounts, another application's secrets) and prune nothing of
    its own — and deleting it later would take its workloads with it."""
    current = backend.get("v1", "Namespace", namespace.name)
    if current is None or _made_for(current, namespace):
        return
    message = (f"Namespace '{namespace.name}' already exists in cluster '{namespace.cluster.name}' and the portal "
               f"did not make it for this tenant (it lacks the {d.MANAGED_LABEL}=true and {d.TENANT_LABEL}="
               f"{namespace.tenant_id} labels): the portal does not take over namespaces. Delete it from the "
               f"portal and choose another name, or have an operator remove the cluster's namespace first.")
    Namespace.objects.filter(pk=namespace.pk).update(sync_state="error", sync_message=message,
                                                     reconciled_at=timezone.now())
    raise Conflict(message, code="namespace_not_ours")


def _terminating(obj: dict | None) -> bool:
    return obj is not None and bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _made_for(obj: dict, namespace: Namespace) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    tenant = labels.get(d.TENANT_LABEL)
    return labels.get(d.MANAGED_LABEL) == "true" and tenant in (None, str(namespace.tenant_id))


def namespaces_affected_by(tenant: Tenant):
    """Plans and inherited memberships flow down the tree: every namespace in the subtree."""
    return Namespace.objects.filter(tenant__path__startswith=tenant.path).exclude(state=Namespace.State.DELETING)


def namespaces_reconcile_later(tenant: Tenant) -> None:
    """After a change to plans or memberships commits, reconcile the subtree's namespaces."""
    from tenants.tasks import namespace_reconcile_task

    ids = list(namespaces_affected_by(tenant).values_list("pk", flat=True))
    transaction.on_commit(lambda: [namespace_reconcile_task.delay(pk) for pk in ids])


def namespace_reconcile_run(*, operation_id: int, final_attempt: bool = False) -> dict | None:
    """The "reconcile now" Operation (see operations.operation_run for claims and retries)."""

    def work(operation: Operation) -> dict:
        namespace = _operation_namespace(operation)
        return namespace_reconcile(namespace=namespace, progress=lambda pct, msg: operation_progress(
            operation=operation, progress=pct, message=msg))

    return operation_run(operation_id=operation_id, work=work, final_attempt=final_attempt,
                         done_message="namespace matches the portal")


def namespace_delete_run(*, operation_id: int, final_attempt: bool = False) -> dict | None:
    """Remove a confirmed namespace from its cluster, then from the portal."""

    def work(operation: Operation) -> dict:
        namespace = Namespace.objects.select_related("tenant", "cluster").filter(pk=operation.target_id).first()
        if namespace is None:
            return {"deleted": False}
        namespace_refuse_if_releases(namespace)  # one installed while the deletion was queued: nothing goes
        backend = cluster_backend(namespace.cluster)
        current = backend.get("v1", "Namespace", namespace.name)
        # Only what the portal made goes from the cluster: a namespace it was refused (_refuse_unless_ours)
        # is someone else's, and only the portal's record of it goes.
        kept = current is not None and not _made_for(current, namespace)
        if not kept and not _terminating(current):
            try:
                backend.delete("v1", "Namespace", namespace.name)
            except BackendTransientError as exc:
                # Already being deleted (an earlier attempt whose answer was lost, kubectl): the API
                # server answers 409 until its content is gone, which is what we asked for.
                if exc.status != 409 or not _terminating(backend.get("v1", "Namespace", namespace.name)):
                    raise
        namespace_remove(namespace=namespace)
        return {"deleted": True, "namespace": namespace.name, "left_in_cluster": kept}

    return operation_run(operation_id=operation_id, work=work, final_attempt=final_attempt,
                         done_message="namespace deleted")


def _operation_namespace(operation: Operation) -> Namespace:
    namespace = Namespace.objects.select_related("tenant", "cluster").filter(pk=operation.target_id).first()
    if namespace is None:
        raise NotFound("The namespace no longer exists.")
    return namespace
