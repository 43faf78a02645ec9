"""The seed case of the scheduling issue, shared by its end-to-end tests and the ``make run`` demo.

T1 and T2 own 8 cpu each of a 16-cpu cluster (the sandbox's 4 nodes × 4 cpu); T2 may borrow 4.
T1 runs 4 pods and T2 12, 1 cpu each: the cluster is full, T2 borrowing the 4 T1 leaves idle.
Then T1 scales to 8: the engine takes T1's owned share back by evicting 4 of T2's borrowed pods
(EVICT_RECLAIM_OWNED), and T1's new pods are admitted as soon as the victims are gone, within
their grace. Workloads are Deployments whose pods carry the admission gate, as app store
releases' pods do.
"""

from __future__ import annotations

from backends.kubernetes import KubernetesBackend

from .snapshot import GATE

OWNED_CPU = 8000  # millicores, owned by each of T1 and T2
T2_BORROW_CPU = 4000
T1_PODS, T2_PODS, T1_SCALED = 4, 12, 8
POD_CPU = "1"


def gated_deployment(name: str, namespace: str, replicas: int, *, cpu: str = POD_CPU, memory: str = "64Mi",
                     grace: int = 3, annotations: dict[str, str] | None = None) -> dict:
    """A Deployment whose pods wait for the scheduler; ``annotations`` go on the pods (e.g. a gang's).

    Limits equal requests: a tenant namespace's LimitRange would otherwise give the containers its
    default limit, below a 1-cpu request."""
    resources = {"cpu": cpu, "memory": memory}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": grace,
                                           "containers": [{"name": "app", "image": "registry.local/app:1",
                                                           "resources": {"requests": resources,
                                                                         "limits": dict(resources)}}]}}}}


def running(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if p.phase == "Running" and not p.deleting)


def terminating(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if p.deleting)


def gated(backend: KubernetesBackend, namespace: str) -> int:
    return sum(1 for p in backend.list_pods(namespace) if GATE in p.scheduling_gates)
