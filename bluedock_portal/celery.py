"""The Celery application and its beat schedule.

Workers and beat run as their own processes (``make run`` starts both). Periodic
tasks carry ``expires`` so a backlog after an outage does not replay stale work.
"""

import os

from celery import Celery

from .env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")

app = Celery("bluedock_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
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
}
