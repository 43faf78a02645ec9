"""The Celery application and its beat schedule.

Workers and beat run as their own processes (``make run`` starts both). Periodic
tasks carry ``expires`` so a backlog after an outage does not replay stale work.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")

app = Celery("bluedock_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "tenants.operations_requeue_stuck": {
        "task": "tenants.operations_requeue_stuck",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "tenants.keystone_reconcile": {
        "task": "tenants.keystone_reconcile",
        "schedule": float(os.environ.get("KEYSTONE_SYNC_INTERVAL", "300")),
        "options": {"expires": 240},
    },
}
