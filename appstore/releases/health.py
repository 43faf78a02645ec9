"""What a release's objects look like in the cluster, in words a tenant understands.

Pure: it takes the objects the current revision declares and the live objects (plain dicts
as the API server returns them) and answers one row per object. Invariants:

- every declared object gets exactly one row, in manifest order; an object the cluster no
  longer has is ``missing`` (never silently dropped);
- a pod still held at the ``bluedock.io/admission`` gate is ``waiting for admission``: the
  portal's scheduler has not admitted it yet, which is not an error of the chart;
- ``healthy`` is True, False, or None when the state says nothing either way (a ConfigMap).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .render import ADMISSION_GATE

WAITING_FOR_ADMISSION = "waiting for admission"
MISSING = "missing"
REPLICATED = {"Deployment", "StatefulSet", "ReplicaSet"}
BAD_WAITING_REASONS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "RunContainerError",
}


@dataclass(frozen=True)
class ResourceRow:
    """One object of the release (or one of its pods) and its live state."""

    api_version: str
    kind: str
    name: str
    state: str
    detail: str = ""
    healthy: bool | None = None
    owner: str = ""  # for pods: "Deployment/web", the declared workload that selects them


def _conditions(obj: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def pod_state(pod: dict) -> tuple[str, str, bool | None]:
    """(state, detail, healthy) of one pod, from its gates, phase, conditions and container statuses."""
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod.get("metadata") or {}
    gates = [g.get("name") for g in spec.get("schedulingGates") or []]
    if meta.get("deletionTimestamp"):
        return "terminating", "", None
    if ADMISSION_GATE in gates:
        return WAITING_FOR_ADMISSION, "held until the tenant's share admits it", None
    if gates:
        return "gated", ", ".join(gates), None
    phase = status.get("phase") or "Pending"
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in BAD_WAITING_REASONS:
            return waiting["reason"], f"{container.get('name')}: {waiting.get('message', '')}".strip(": "), False
    conditions = _conditions(pod)
    node = spec.get("nodeName") or ""
    if phase == "Pending":
        scheduled = conditions.get("PodScheduled") or {}
        if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
            return "unschedulable", scheduled.get("message", ""), False
        return "pending", f"on {node}" if node else "not yet on a node", None
    if phase == "Running":
        ready = (conditions.get("Ready") or {}).get("status") == "True"
        return ("running" if ready else "running, not ready"), f"on {node}", ready
    if phase == "Succeeded":
        return "succeeded", "", True
    if phase == "Failed":
        return "failed", status.get("message") or status.get("reason") or "", False
    return phase.lower(), "", None


def _replicas(obj: dict, waiting: int) -> tuple[str, str, bool | None]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    ready = status.get("readyReplicas") or 0
    detail = f"{ready}/{desired} ready"
    if waiting:
        detail += f", {waiting} waiting for admission"
    if desired == 0:
        return "scaled to zero", detail, None
    if ready >= desired:
        return "ready", detail, True
    return (WAITING_FOR_ADMISSION if waiting else "progressing"), detail, None


def _job(obj: dict) -> tuple[str, str, bool | None]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conditions = _conditions(obj)
    detail = f"{status.get('succeeded') or 0}/{spec.get('completions', 1)} succeeded"
    if (conditions.get("Complete") or {}).get("status") == "True":
        return "complete", detail, True
    if (conditions.get("Failed") or {}).get("status") == "True":
        return "failed", (conditions["Failed"].get("message") or detail), False
    return "running", detail + f", {status.get('active') or 0} active", None


def _service(obj: dict) -> tuple[str, str, bool | None]:
    spec = obj.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    ports = ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    detail = " ".join(part for part in (kind, spec.get("clusterIP") or "", ports) if part)
    if kind == "LoadBalancer" and not ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return "pending", detail + " (no external address yet)", None
    return "active", detail, True


def object_state(obj: dict, *, waiting_pods: int = 0) -> tuple[str, str, bool | None]:
    """(state, detail, healthy) of one live object."""
    kind = obj.get("kind", "")
    if kind in REPLICATED:
        return _replicas(obj, waiting_pods)
    if kind == "DaemonSet":
        status = obj.get("status") or {}
        ready, desired = status.get("numberReady") or 0, status.get("desiredNumberScheduled") or 0
        return ("ready" if ready >= desired else "progressing"), f"{ready}/{desired} ready", ready >= desired or None
    if kind == "Job":
        return _job(obj)
    if kind == "Pod":
        return pod_state(obj)
    if kind == "Service":
        return _service(obj)
    if kind == "PersistentVolumeClaim":
        phase = (obj.get("status") or {}).get("phase") or "Pending"
        return phase.lower(), "", phase == "Bound" or None
    if kind == "HorizontalPodAutoscaler":
        status = obj.get("status") or {}
        return "active", f"{status.get('currentReplicas', 0)} → {status.get('desiredReplicas', 0)} replicas", None
    return "present", "", None


def _selects(workload: dict, pod: dict) -> bool:
    wanted = (((workload.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def resource_rows(declared: Iterable[dict], live: dict[tuple[str, str], dict], pods: list[dict]) -> list[ResourceRow]:
    """One row per declared object (``live`` maps (kind, name) to the cluster's copy), then its pods."""
    rows: list[ResourceRow] = []
    claimed: set[str] = set()
    for obj in declared:
        kind, name = obj["kind"], obj["metadata"]["name"]
        current = live.get((kind, name))
        if current is None:
            rows.append(ResourceRow(obj["apiVersion"], kind, name, MISSING, "not in the cluster", False))
            continue
        current = {**current, "kind": kind}
        mine = [p for p in pods if _selects(current, p)] if kind in REPLICATED | {"DaemonSet", "Job"} else []
        waiting = sum(1 for p in mine if pod_state(p)[0] == WAITING_FOR_ADMISSION)
        rows.append(ResourceRow(obj["apiVersion"], kind, name, *object_state(current, waiting_pods=waiting)))
        for pod in mine:
            pod_name = pod["metadata"]["name"]
            if pod_name not in claimed:
                claimed.add(pod_name)
                rows.append(ResourceRow("v1", "Pod", pod_name, *pod_state(pod), owner=f"{kind}/{name}"))
    # Pods of the release that no declared workload selects (a bare Pod is declared itself).
    declared_pods = {r.name for r in rows if r.kind == "Pod"}
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        if pod_name not in claimed and pod_name not in declared_pods:
            rows.append(ResourceRow("v1", "Pod", pod_name, *pod_state(pod)))
    return rows
