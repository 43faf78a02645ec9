"""The lifecycle of an Operation: queued → running → succeeded | failed.

Workers claim an operation with compare-and-set, so a duplicate delivery (Redis
re-delivers unacknowledged tasks) finds nothing to do. A reconciler re-enqueues
operations whose worker died (stuck in queued/running past the deadline).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from backends.errors import BackendPermanentError, BackendTransientError
from bluedock_portal.errors import ServiceError
from tenants.models import Operation

# Operation type → Celery task name that runs it (registered by each app's tasks module).
RUNNERS: dict[str, str] = {}


def operation_create(*, type: str, actor=None, tenant=None, target=None, params: dict | None = None,
                     idempotency_key: str = "") -> tuple[Operation, bool]:
    """Create and enqueue an operation; with an idempotency key a repeat returns the first one.

    Returns (operation, created).
    """
    fields = dict(type=type, actor=actor if actor is not None and actor.is_authenticated else None,
                  tenant=tenant, params=params or {}, idempotency_key=idempotency_key,
                  target_type=target._meta.label_lower if target is not None else "",
                  target_id=str(target.pk) if target is not None else "")
    if idempotency_key:
        existing = Operation.objects.filter(actor=fields["actor"], type=type, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            operation = Operation.objects.create(**fields)
            transaction.on_commit(lambda: operation_enqueue(operation))
    except IntegrityError:
        return Operation.objects.get(actor=fields["actor"], type=type, idempotency_key=idempotency_key), False
    return operation, True


def operation_enqueue(operation: Operation) -> None:
    from bluedock_portal.celery import app

    task_name = RUNNERS.get(operation.type)
    if task_name:
        app.send_task(task_name, args=[operation.pk])


def operation_claim(*, operation_id: int) -> Operation | None:
    """Move queued → running for exactly one worker; None if someone else has it or it is done."""
    now = timezone.now()
    changed = Operation.objects.filter(pk=operation_id, state=Operation.State.QUEUED).update(
        state=Operation.State.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    return Operation.objects.get(pk=operation_id) if changed else None


def operation_progress(*, operation: Operation, progress: int, message: str = "") -> None:
    operation.progress = max(0, min(100, progress))
    operation.message = message[:300]
    operation.heartbeat_at = timezone.now()
    Operation.objects.filter(pk=operation.pk).update(progress=operation.progress, message=operation.message,
                                                     heartbeat_at=operation.heartbeat_at)


def operation_succeed(*, operation: Operation, result: dict | None = None, message: str = "done") -> None:
    Operation.objects.filter(pk=operation.pk).update(state=Operation.State.SUCCEEDED, progress=100,
                                                     message=message[:300], result=result,
                                                     finished_at=timezone.now())


def operation_fail(*, operation: Operation, code: str, message: str) -> None:
    Operation.objects.filter(pk=operation.pk).update(state=Operation.State.FAILED, error_code=code,
                                                     error_message=message, finished_at=timezone.now())


def operation_release(*, operation: Operation, message: str) -> None:
    """Hand a running operation back to the queue (a transient failure; the task will retry)."""
    Operation.objects.filter(pk=operation.pk, state=Operation.State.RUNNING).update(
        state=Operation.State.QUEUED, message=message[:300])


def operations_requeue_stuck(*, now=None) -> int:
    """Re-enqueue operations whose worker vanished; returns how many were requeued."""
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS)
    stuck = list(Operation.objects.filter(
        Q(state=Operation.State.QUEUED, created_at__lt=deadline)
        | Q(state=Operation.State.RUNNING, heartbeat_at__lt=deadline)))
    for operation in stuck:
        Operation.objects.filter(pk=operation.pk, state=operation.state).update(state=Operation.State.QUEUED)
        operation_enqueue(operation)
    return len(stuck)


def operation_run(*, operation_id: int, work: Callable[[Operation], dict | None], final_attempt: bool = False,
                  done_message: Callable[[dict | None], str] | str = "done") -> dict | None:
    """Claim an operation, do its ``work`` and record the outcome; None if another worker has it.

    A transient backend failure hands the operation back to the queue and re-raises so the
    task retries (on the ``final_attempt`` it fails instead); a refusal fails it with the
    backend's message; anything unexpected fails it and re-raises for the worker's log.
    """
    operation = operation_claim(operation_id=operation_id)
    if operation is None:
        return None
    try:
        result = work(operation)
    except BackendTransientError as exc:
        if final_attempt:
            operation_fail(operation=operation, code=f"{exc.system or 'backend'}_unavailable", message=exc.message)
            return None
        operation_release(operation=operation, message=f"will retry: {exc.message}")
        raise
    except BackendPermanentError as exc:
        operation_fail(operation=operation, code=f"{exc.system or 'backend'}_rejected", message=exc.message)
        return None
    except ServiceError as exc:
        operation_fail(operation=operation, code=exc.code, message=exc.detail)
        return None
    except Exception as exc:
        operation_fail(operation=operation, code="internal_error", message=f"{type(exc).__name__}: {exc}")
        raise
    operation_succeed(operation=operation, result=result,
                      message=done_message(result) if callable(done_message) else done_message)
    return result
