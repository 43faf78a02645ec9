"""Celery adapters: the beat-driven cycle runs on its own queue, one worker process."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from .cycle import scheduling_tick


@shared_task(name="scheduling.cycle", queue="scheduling", acks_late=False, soft_time_limit=20, time_limit=30,
             ignore_result=True)
def scheduling_cycle_task() -> dict:
    """One beat tick of passes over every active cluster. No retries: the next tick is the retry.
    The tick ends a little before the next one is due, so ticks never queue up behind each other."""
    return scheduling_tick(seconds=settings.SCHEDULING_INTERVAL * 0.9, poll=settings.SCHEDULING_POLL_MS / 1000,
                           fatal=(SoftTimeLimitExceeded,))
