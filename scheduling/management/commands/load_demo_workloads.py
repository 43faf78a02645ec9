"""``python manage.py load_demo_workloads``: gated Deployments in the demo namespaces, for the scheduler.

Their pods carry the admission gate, as app store releases do, so the scheduling cycle decides
which run now and which wait (and says why on each tenant's scheduling page). Idempotent: the
Deployments are applied, not created.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from backends.errors import BackendError
from scheduling.snapshot import GATE
from tenants.models import Namespace
from tenants.services.clusters import cluster_backend

# namespace → (deployment, replicas, cpu per pod)
WORKLOADS = {
    "team-a-dev": ("web", 3, "500m"),
    "team-a-prod": ("api", 4, "1"),
    "team-b-apps": ("batch", 8, "1"),
    "vision-training": ("trainer", 4, "2"),
}


def deployment(namespace: str, name: str, replicas: int, cpu: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": 10,
                                           "containers": [{"name": name, "image": f"demo.local/{name}:1",
                                                           "resources": {"requests": {"cpu": cpu,
                                                                                      "memory": "256Mi"}}}]}}}}


class Command(BaseCommand):
    help = "Apply gated demo Deployments into the demo namespaces (the scheduler admits them)."

    def handle(self, *args, **options):
        for namespace in Namespace.objects.select_related("cluster").filter(name__in=WORKLOADS):
            name, replicas, cpu = WORKLOADS[namespace.name]
            try:
                cluster_backend(namespace.cluster).apply(deployment(namespace.name, name, replicas, cpu))
            except BackendError as exc:
                self.stderr.write(f"  ! {namespace.name}/{name}: {exc}")
                continue
            self.stdout.write(f"  = {namespace.cluster.name}/{namespace.name}: deployment {name} × {replicas} "
                              f"({cpu} cpu each, gated)")
