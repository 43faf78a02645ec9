"""Celery adapters only: load by id, call one service."""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from backends.errors import BackendTransientError

from .services import keystone_sync, operations

operations.RUNNERS[keystone_sync.OPERATION_TYPE] = "tenants.keystone_sync_run"


@shared_task(name="tenants.operations_requeue_stuck", soft_time_limit=60, time_limit=90)
def operations_requeue_stuck() -> int:
    return operations.operations_requeue_stuck()


@shared_task(name="tenants.keystone_reconcile", acks_late=True, soft_time_limit=240, time_limit=270)
def keystone_reconcile() -> dict | str:
    """The periodic import. No retries: if Keystone is down, the next beat tick tries again."""
    if not settings.KEYSTONE_ENABLED:
        return "disabled"
    return keystone_sync.keystone_import()


@shared_task(bind=True, name="tenants.keystone_sync_run", acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=240, time_limit=270, max_retries=8)
def keystone_sync_run(self, operation_id: int) -> dict | None:
    try:
        return keystone_sync.keystone_sync_run(operation_id=operation_id,
                                               final_attempt=self.request.retries >= self.max_retries)
    except BackendTransientError as exc:
        countdown = get_exponential_backoff_interval(factor=5, retries=self.request.retries, maximum=600,
                                                     full_jitter=True)
        raise self.retry(exc=exc, countdown=countdown)
