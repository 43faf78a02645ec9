"""Celery adapters only: load by id, call one service."""

from __future__ import annotations

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from backends.errors import BackendPermanentError, BackendTransientError

from .models import Cluster, Namespace
from .services import clusters, keystone_sync, operations, provisioning

# Operation runners claim by compare-and-set, so a redelivered message (acks_late) is harmless.
OPERATION_TASK = {"acks_late": True, "reject_on_worker_lost": True, "soft_time_limit": 240, "time_limit": 300,
                  "max_retries": 8}
RETRYING = {"acks_late": True, "reject_on_worker_lost": True, "autoretry_for": (BackendTransientError,),
            "retry_backoff": True, "retry_backoff_max": 120, "retry_jitter": True, "max_retries": 8,
            "soft_time_limit": 240, "time_limit": 300}


@shared_task(name="tenants.operations_requeue_stuck", soft_time_limit=60, time_limit=90)
def operations_requeue_stuck() -> int:
    return operations.operations_requeue_stuck()


@shared_task(name="tenants.namespace_reconcile", **RETRYING)
def namespace_reconcile_task(namespace_id: int) -> dict | None:
    namespace = Namespace.objects.select_related("tenant", "cluster").filter(pk=namespace_id).first()
    if namespace is None or namespace.state == Namespace.State.DELETING:
        return None
    return provisioning.namespace_reconcile(namespace=namespace)


@shared_task(name="tenants.namespaces_reconcile_all", soft_time_limit=60, time_limit=90)
def namespaces_reconcile_all() -> int:
    """Periodic drift repair: one reconcile task per namespace of an active cluster."""
    ids = list(Namespace.objects.filter(cluster__is_active=True).exclude(state=Namespace.State.DELETING)
               .values_list("pk", flat=True))
    for pk in ids:
        namespace_reconcile_task.delay(pk)
    return len(ids)


@shared_task(name="tenants.namespace_reconcile_run", bind=True, **OPERATION_TASK)
def namespace_reconcile_run(self, operation_id: int) -> dict | None:
    try:
        return provisioning.namespace_reconcile_run(operation_id=operation_id, final_attempt=_final(self))
    except BackendTransientError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None


@shared_task(name="tenants.namespace_delete_run", bind=True, **OPERATION_TASK)
def namespace_delete_run(self, operation_id: int) -> dict | None:
    try:
        return provisioning.namespace_delete_run(operation_id=operation_id, final_attempt=_final(self))
    except BackendTransientError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None


@shared_task(name="tenants.clusters_sync_inventory", soft_time_limit=120, time_limit=150)
def clusters_sync_inventory() -> dict:
    """Periodic: health, nodes and pods of every active cluster (one failing cluster does not stop the rest)."""
    result = {}
    for cluster in Cluster.objects.filter(is_active=True):
        cluster = clusters.cluster_check_health(cluster=cluster)
        if cluster.health != Cluster.Health.HEALTHY:
            result[cluster.name] = cluster.health
            continue
        try:
            result[cluster.name] = clusters.cluster_sync_inventory(cluster=cluster)
        except (BackendTransientError, BackendPermanentError) as exc:
            result[cluster.name] = str(exc)
    return result


operations.RUNNERS[keystone_sync.OPERATION_TYPE] = "tenants.keystone_sync_run"
operations.RUNNERS["namespace.reconcile"] = "tenants.namespace_reconcile_run"
operations.RUNNERS["namespace.delete"] = "tenants.namespace_delete_run"


@shared_task(name="tenants.keystone_reconcile", acks_late=True, soft_time_limit=240, time_limit=270)
def keystone_reconcile() -> dict | str:
    """The periodic import. No retries: if Keystone is down, the next beat tick tries again."""
    if not settings.KEYSTONE_ENABLED:
        return "disabled"
    return keystone_sync.keystone_import()


@shared_task(name="tenants.keystone_sync_run", bind=True, **OPERATION_TASK)
def keystone_sync_run(self, operation_id: int) -> dict | None:
    try:
        return keystone_sync.keystone_sync_run(operation_id=operation_id, final_attempt=_final(self))
    except BackendTransientError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None


def _final(task) -> bool:
    return task.request.retries >= task.max_retries


def _backoff(retries: int) -> int:
    return get_exponential_backoff_interval(factor=5, retries=retries, maximum=600, full_jitter=True)
