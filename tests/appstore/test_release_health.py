"""The words a tenant reads for each object of a release: a table, no database, no cluster."""

from __future__ import annotations

import pytest

from appstore.releases import health

GATE = [{"name": "bluedock.io/admission"}]


def pod(name="web-1", *, phase="Pending", gates=None, ready=None, node="", labels=None, waiting=None, **status):
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}] if ready is not None else []
    if status.pop("unschedulable", None):
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/4 nodes are available: 4 Insufficient cpu.",
            }
        )
    body = {
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"schedulingGates": gates or [], "nodeName": node},
        "status": {"phase": phase, "conditions": conditions, **status},
    }
    if waiting:
        body["status"]["containerStatuses"] = [{"name": "web", "state": {"waiting": waiting}}]
    return body


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod(gates=GATE), ("waiting for admission", "held until the tenant's share admits it", None)),
        (pod(gates=[{"name": "other.io/gate"}]), ("gated", "other.io/gate", None)),
        (pod(unschedulable=True), ("unschedulable", "0/4 nodes are available: 4 Insufficient cpu.", False)),
        (pod(), ("pending", "not yet on a node", None)),
        (pod(phase="Running", ready=True, node="node-1"), ("running", "on node-1", True)),
        (pod(phase="Running", ready=False, node="node-1"), ("running, not ready", "on node-1", False)),
        (
            pod(phase="Running", waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}),
            ("CrashLoopBackOff", "web: back-off 5m0s", False),
        ),
        (pod(phase="Succeeded"), ("succeeded", "", True)),
        (pod(phase="Failed", message="OOMKilled"), ("failed", "OOMKilled", False)),
        ({"kind": "Deployment", "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}, ("ready", "2/2 ready", True)),
        (
            {"kind": "Deployment", "spec": {"replicas": 3}, "status": {"readyReplicas": 1}},
            ("progressing", "1/3 ready", None),
        ),
        ({"kind": "StatefulSet", "spec": {"replicas": 0}, "status": {}}, ("scaled to zero", "0/0 ready", None)),
        (
            {"kind": "DaemonSet", "status": {"numberReady": 3, "desiredNumberScheduled": 4}},
            ("progressing", "3/4 ready", None),
        ),
        (
            {
                "kind": "Job",
                "spec": {"completions": 2},
                "status": {"succeeded": 2, "conditions": [{"type": "Complete", "status": "True"}]},
            },
            ("complete", "2/2 succeeded", True),
        ),
        (
            {
                "kind": "Job",
                "spec": {},
                "status": {
                    "failed": 6,
                    "conditions": [
                        {"type": "Failed", "status": "True", "message": "Job has reached the specified backoff limit"}
                    ],
                },
            },
            ("failed", "Job has reached the specified backoff limit", False),
        ),
        (
            {"kind": "Service", "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.12", "ports": [{"port": 80}]}},
            ("active", "ClusterIP 10.96.0.12 80/TCP", True),
        ),
        (
            {"kind": "Service", "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.13"}, "status": {}},
            ("pending", "LoadBalancer 10.96.0.13 (no external address yet)", None),
        ),
        ({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, ("bound", "", True)),
        ({"kind": "ConfigMap", "data": {}}, ("present", "", None)),
    ],
)
def test_each_kind_reads_as_a_tenant_expects(obj, expected):
    assert health.object_state(obj) == expected


def declared(kind, name, api_version="apps/v1", **spec):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def test_rows_follow_the_manifest_with_pods_under_their_workload_and_missing_objects_named():
    web = declared("Deployment", "web", replicas=2, selector={"matchLabels": {"app": "web"}})
    manifest = [web, declared("Service", "web", api_version="v1"), declared("ConfigMap", "settings", "v1")]
    live = {
        ("Deployment", "web"): {**web, "status": {"readyReplicas": 0}},
        ("Service", "web"): {"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.9"}},
    }
    pods = [
        pod("web-a", gates=GATE),
        pod("web-b", phase="Running", ready=True, node="node-2"),
        pod("stray", labels={"app": "other"}, phase="Succeeded"),
    ]
    rows = [(r.kind, r.name, r.state, r.detail, r.owner) for r in health.resource_rows(manifest, live, pods)]
    assert rows == [
        ("Deployment", "web", "waiting for admission", "0/2 ready, 1 waiting for admission", ""),
        ("Pod", "web-a", "waiting for admission", "held until the tenant's share admits it", "Deployment/web"),
        ("Pod", "web-b", "running", "on node-2", "Deployment/web"),
        ("Service", "web", "active", "ClusterIP 10.96.0.9", ""),
        ("ConfigMap", "settings", "missing", "not in the cluster", ""),
        ("Pod", "stray", "succeeded", "", ""),
    ]


def test_a_declared_pod_is_listed_once():
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once"}, "spec": {}}
    live_pod = pod("once", gates=GATE)
    rows = health.resource_rows([bare], {("Pod", "once"): live_pod}, [live_pod])
    assert [(r.kind, r.name, r.state) for r in rows] == [("Pod", "once", "waiting for admission")]
