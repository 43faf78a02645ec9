"""The seed case of the scheduling issue (scheduling/seed_case.py), set up in a sandbox cluster.

T1 and T2 are root tenants here: the cluster is theirs alone. The ``make run`` demo builds the
same case under the demo organisation (scheduling/demo.py).
"""

from __future__ import annotations

import time

from backends.kubernetes import Credentials, KubernetesBackend
from scheduling.seed_case import OWNED_CPU, T2_BORROW_CPU, gated, running, terminating
from scheduling.seed_case import gated_deployment as deployment
from scheduling.snapshot import GATE
from tenants.models import Cluster, Namespace, ResourcePlan, Tenant
from tenants.services.clusters import cluster_create

__all__ = ["GATE", "cycle_until", "deployment", "gated", "running", "setup_seed", "terminating"]


def setup_seed(url: str, token: str, operator) -> tuple[Cluster, KubernetesBackend, dict]:
    t1 = Tenant.objects.add_root(instance=Tenant(parent=None, name="T1", slug="t1", full_slug="t1"))
    t2 = Tenant.objects.add_root(instance=Tenant(parent=None, name="T2", slug="t2", full_slug="t2"))
    ResourcePlan.objects.create(tenant=t1, resource="cpu", owned=OWNED_CPU)
    ResourcePlan.objects.create(tenant=t2, resource="cpu", owned=OWNED_CPU, borrow_limit=T2_BORROW_CPU)
    cluster = cluster_create(name="seed", api_url=url, actor=operator, token=token)
    backend = KubernetesBackend(Credentials(api_url=url, token=token))
    for tenant, ns in ((t1, "t1-apps"), (t2, "t2-apps")):
        Namespace.objects.create(tenant=tenant, cluster=cluster, name=ns)
        backend.ensure_namespace(ns, labels={})
    return cluster, backend, {"t1": t1, "t2": t2}


def cycle_until(cluster, predicate, *, seconds=20.0):
    """Passes back to back (a little apart, so graces can run out) until ``predicate()`` holds."""
    from scheduling.cycle import scheduling_cycle

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        scheduling_cycle(cluster=cluster)
        if predicate():
            return True
        time.sleep(0.1)
    raise AssertionError("the cycle never got there")
