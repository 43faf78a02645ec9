"""The Celery application and its beat schedule.

Workers and beat run as their own processes (``make run`` starts both). Periodic
tasks carry ``expires`` so a backlog after an outage does not replay stale work.
"""

import logging
import os

from celery import Celery
from celery.signals import beat_init

from .env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")

app = Celery("bluedock_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # The scheduling cycle: every second, expiring at once, on its own queue (one worker process).
    "scheduling.cycle": {
        "task": "scheduling.cycle",
        "schedule": float(env_int("SCHEDULING_INTERVAL", 1, minimum=1)),  # settings.SCHEDULING_INTERVAL
        "options": {"expires": 1, "queue": "scheduling"},
    },
    "tenants.operations_requeue_stuck": {
        "task": "tenants.operations_requeue_stuck",
        "schedule": float(env_int("OPERATIONS_REQUEUE_INTERVAL", 60, minimum=1)),
        "options": {"expires": 55},
    },
    "tenants.namespaces_reconcile_all": {
        "task": "tenants.namespaces_reconcile_all",
        "schedule": float(env_int("NAMESPACE_RECONCILE_INTERVAL", 300, minimum=5)),
        "options": {"expires": 240},
    },
    "tenants.clusters_sync_inventory": {
        "task": "tenants.clusters_sync_inventory",
        "schedule": float(env_int("CLUSTER_INVENTORY_INTERVAL", 30, minimum=5)),
        "options": {"expires": 25},
    },
    "tenants.keystone_reconcile": {
        "task": "tenants.keystone_reconcile",
        "schedule": float(env_int("KEYSTONE_SYNC_INTERVAL", 300, minimum=10)),
        "options": {"expires": 240},
    },
    "appstore.repositories_sync_due": {
        "task": "appstore.repositories_sync_due",
        "schedule": float(env_int("APPSTORE_SYNC_CHECK_INTERVAL", 300, minimum=10)),
        "options": {"expires": 240},
    },
}


@beat_init.connect
def _skip_entries_nobody_can_run(sender, **kwargs) -> None:
    """Drop schedule entries whose task no installed module registers.

    Beat and the workers load the same task modules, so an entry that is unregistered here
    would only earn an "unregistered task" error in every worker's log at each interval
    (e.g. while the Keystone sync lives on another branch or is not installed).
    """
    schedule = sender.scheduler.schedule
    for name, entry in list(schedule.items()):
        if entry.task not in sender.app.tasks:
            logging.getLogger(__name__).warning("beat: skipping %r: no module registers task %r", name, entry.task)
            del schedule[name]
