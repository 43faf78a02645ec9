"""Celery adapters only: load by id, call one service."""

from __future__ import annotations

from celery import shared_task

from backends.errors import BackendTransientError
from tenants.services import operations
from tenants.tasks import OPERATION_TASK, _backoff, _final

from .services import releases, repositories, sync

operations.RUNNERS[repositories.SYNC_OPERATION] = "appstore.repository_sync_run"


@shared_task(name="appstore.repository_sync_run", bind=True, **OPERATION_TASK)
def repository_sync_run(self, operation_id: int) -> dict | None:
    try:
        return sync.repository_sync_run(operation_id=operation_id, final_attempt=_final(self))
    except BackendTransientError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None


@shared_task(name="appstore.repositories_sync_due", soft_time_limit=60, time_limit=90)
def repositories_sync_due() -> list[int]:
    return sync.repositories_sync_due()


operations.RUNNERS[releases.OPERATION_TYPE] = "appstore.release_apply_run"


@shared_task(name="appstore.release_apply_run", bind=True, **OPERATION_TASK)
def release_apply_run(self, operation_id: int) -> dict | None:
    try:
        return releases.release_apply_run(operation_id=operation_id, final_attempt=_final(self))
    except BackendTransientError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None
