"""The seed case of the scheduling issue, set up in a sandbox cluster.

T1 and T2 own 8 cpu each in a 16-cpu cluster (4 nodes × 4 cpu); T2 may borrow 4.
Workloads are Deployments whose pods carry the admission gate, as app store releases do.
"""

from __future__ import annotations

import time

from backends.kubernetes import Credentials, KubernetesBackend
from tenants.models import Cluster, Namespace, ResourcePlan, Tenant
from tenants.services.clusters import cluster_create

GATE = "bluedock.io/admission"


def deployment(name: str, namespace: str, replicas: int, cpu: str = "1", grace: int = 3,
               annotations: dict[str, str] | None = None) -> dict:
    """``annotations`` go on the pods (the pod template), e.g. bluedock.io/gang and gang-size."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": grace,
                                           "containers": [{"name": "app", "image": "registry.local/app:1",
                                                           "resources": {"requests": {"cpu": cpu,
                                                                                      "memory": "64Mi"}}}]}}}}


def setup_seed(url: str, token: str, operator) -> tuple[Cluster, KubernetesBackend, dict]:
    t1 = Tenant.objects.add_root(instance=Tenant(parent=None, name="T1", slug="t1", full_slug="t1"))
    t2 = Tenant.objects.add_root(instance=Tenant(parent=None, name="T2", slug="t2", full_slug="t2"))
    ResourcePlan.objects.create(tenant=t1, resource="cpu", owned=8000)
    ResourcePlan.objects.create(tenant=t2, resource="cpu", owned=8000, borrow_limit=4000)
    cluster = cluster_create(name="seed", api_url=url, actor=operator, token=token)
    backend = KubernetesBackend(Credentials(api_url=url, token=token))
    for tenant, ns in ((t1, "t1-apps"), (t2, "t2-apps")):
        Namespace.objects.create(tenant=tenant, cluster=cluster, name=ns)
        backend.ensure_namespace(ns, labels={})
    return cluster, backend, {"t1": t1, "t2": t2}


def running(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if p.phase == "Running" and not p.deleting)


def terminating(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if p.deleting)


def gated(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if GATE in p.scheduling_gates)


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
