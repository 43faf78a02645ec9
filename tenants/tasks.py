"""Celery adapters only: load by id, call one service."""

from celery import shared_task

from .services import operations


@shared_task(name="tenants.operations_requeue_stuck", soft_time_limit=60, time_limit=90)
def operations_requeue_stuck() -> int:
    return operations.operations_requeue_stuck()
