"""``python manage.py load_demo_workloads``: the scheduling demo's workloads (scheduling/demo.py).

Team-one's 4 pods and team-two's 12, 1 cpu each, in their namespaces: they fill the sandbox's 16
cpu, team-two borrowing the 4 team-one leaves idle. Their pods carry the admission gate, as app
store releases' pods do, so the scheduling cycle decides which run (and says why on each tenant's
scheduling page). Idempotent: the Deployments are applied, not created; applying them again puts
both teams back at their start-up size.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from backends.errors import BackendError
from scheduling.demo import demo_workloads
from tenants.models import Namespace
from tenants.services.clusters import cluster_backend


class Command(BaseCommand):
    help = "Apply the scheduling demo's gated Deployments (team-one × 4, team-two × 12; the scheduler admits them)."

    def handle(self, *args, **options):
        workloads = {w["metadata"]["namespace"]: w for w in demo_workloads()}
        for namespace in Namespace.objects.select_related("cluster").filter(name__in=workloads):
            manifest = workloads[namespace.name]
            name, spec = manifest["metadata"]["name"], manifest["spec"]
            try:
                cluster_backend(namespace.cluster).apply(manifest)
            except BackendError as exc:
                self.stderr.write(f"  ! {namespace.name}/{name}: {exc}")
                continue
            cpu = spec["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
            self.stdout.write(f"  = {namespace.cluster.name}/{namespace.name}: deployment {name} × {spec['replicas']} "
                              f"({cpu} cpu each, gated)")
