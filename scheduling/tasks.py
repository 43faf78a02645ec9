"""Celery adapters: the beat-driven cycle runs on its own queue, one worker process."""

from __future__ import annotations

from celery import shared_task

from backends.errors import BackendError
from tenants.models import Cluster

from .cycle import scheduling_cycle


@shared_task(name="scheduling.cycle", queue="scheduling", acks_late=False, soft_time_limit=20, time_limit=30,
             ignore_result=True)
def scheduling_cycle_task() -> dict:
    """One pass per active cluster. No retries: the next beat tick (1 s) is the retry."""
    result = {}
    for cluster in Cluster.objects.filter(is_active=True):
        try:
            result[cluster.name] = scheduling_cycle(cluster=cluster)
        except BackendError as exc:
            result[cluster.name] = {"error": str(exc)}
    return result
