"""Simulated scheduler (first fit), kubelet and horizontal pod autoscaler."""

from __future__ import annotations

import copy
import time
from collections import Counter
from fractions import Fraction

from . import quantity, subresources
from .admission import TERMINAL, pod_usage
from .handlers import Api
from .selectors import match_label_selector
from .store import now_iso

RUN_SECONDS = "sandbox.bluedock.io/run-seconds"  # job pods succeed after this long (default 1)
EXIT_CODE = "sandbox.bluedock.io/exit-code"  # non-zero: the job pod fails


def is_ready(pod: dict) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def node_ready(node: dict) -> bool:
    return not node.get("spec", {}).get("unschedulable") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


def selector_fits(spec: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels", {})
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    return not terms or any(match_label_selector({"matchExpressions": t.get("matchExpressions", [])}, labels)
                            for t in terms)


def untolerated(spec: dict, node: dict) -> dict | None:
    """The first NoSchedule/NoExecute taint of ``node`` that the pod does not tolerate."""
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in spec.get("tolerations") or []):
            return taint
    return None


def _tolerates(tol: dict, taint: dict) -> bool:
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol["key"] == taint.get("key")
    return tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", "")


def place(api: Api, emit) -> None:
    """Bind ungated pending pods to the first node that has room, honouring selectors and taints."""
    pods_res = api.res("v1", "pods")
    nodes = sorted(api.store.list(api.res("v1", "nodes")), key=lambda n: n["metadata"]["name"])
    pods = api.store.peek(pods_res)
    free = {n["metadata"]["name"]: {k: quantity.parse(v) for k, v in n["status"].get("allocatable", {}).items()}
            for n in nodes}
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if node in free and pod["status"].get("phase") not in TERMINAL:
            for k, v in _requests(pod).items():
                free[node][k] = free[node].get(k, Fraction(0)) - v
    waiting = [p for p in pods if not p["spec"].get("nodeName") and not p["spec"].get("schedulingGates")
               and p["spec"].get("schedulerName", "default-scheduler") == "default-scheduler"
               and not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Pending"]
    waiting.sort(key=lambda p: (-p["spec"].get("priority", 0), p["metadata"]["creationTimestamp"]))
    waiting = [copy.deepcopy(p) for p in waiting]
    for pod in waiting:
        reasons: Counter[str] = Counter()
        need = _requests(pod)
        for node in nodes:
            name = node["metadata"]["name"]
            if not node_ready(node):
                reasons["node(s) were unschedulable" if node.get("spec", {}).get("unschedulable")
                        else "node(s) were not ready"] += 1
            elif not selector_fits(pod["spec"], node):
                reasons["node(s) didn't match node selector"] += 1
            elif (taint := untolerated(pod["spec"], node)) is not None:
                reasons[f"node(s) had taint {{{taint['key']}: {taint.get('value', '')}}}, that the pod didn't "
                        "tolerate"] += 1
            elif short := [k for k, v in need.items() if free[name].get(k, Fraction(0)) < v]:
                for k in short:
                    reasons["Too many pods" if k == "pods" else f"Insufficient {k}"] += 1
            else:
                for k, v in need.items():
                    free[name][k] = free[name].get(k, Fraction(0)) - v
                subresources.bind(api, pod, name)
                emit(pod, "Scheduled", f"Successfully assigned {pod['metadata']['namespace']}/"
                     f"{pod['metadata']['name']} to {name}", component="default-scheduler")
                break
        else:
            message = (f"0/{len(nodes)} nodes are available: "
                       + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ".")
            cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
            old = next((c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), {})
            if {k: old.get(k) for k in cond} != cond:
                pod["status"]["conditions"] = [cond | {"lastTransitionTime": now_iso()}]
                api.store.update(pods_res, pod, check_rv=False, raw=True)
                emit(pod, "FailedScheduling", message, type="Warning", component="default-scheduler")


def _requests(pod: dict) -> dict[str, Fraction]:
    """What placement counts against allocatable: every requested resource (cpu, memory, GPUs, ...) and one pod."""
    usage = pod_usage(pod)
    return {k.removeprefix("requests."): v for k, v in usage.items() if k.startswith("requests.")} | {
        "pods": Fraction(1)}


def run_kubelet(api: Api, emit=None) -> None:
    """Bound pods start Running at once; job pods finish after RUN_SECONDS; each start writes log lines
    and, given ``emit``, the kubelet's Pulled/Created/Started events for each container."""
    pods_res = api.res("v1", "pods")
    nodes = {n["metadata"]["name"] for n in api.store.list(api.res("v1", "nodes"))}
    candidates = [p for p in api.store.peek(pods_res) if p["spec"].get("nodeName") in nodes
                  and not p["metadata"].get("deletionTimestamp")
                  and (p["status"].get("phase") == "Pending" or (p["status"].get("phase") == "Running"
                                                                 and _is_job_pod(p)))]
    for pod in [copy.deepcopy(p) for p in candidates]:
        spec, status, meta = pod["spec"], pod["status"], pod["metadata"]
        if status.get("phase") == "Pending":
            started = now_iso()
            conds = [{"type": t, "status": "True", "lastTransitionTime": started}
                     for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")]
            status.update(phase="Running", startTime=started, hostIP="10.0.0.1", podIP=_pod_ip(meta["uid"]),
                          conditions=[c for c in status.get("conditions", []) if c["type"] == "PodScheduled"] + conds,
                          containerStatuses=[_container_status(c, started) for c in spec.get("containers", [])])
            for c in spec.get("containers", []):
                api.logs[(meta["namespace"], meta["name"], c["name"])].extend([
                    f"{started} [sandbox] starting container {c['name']} (image {c.get('image', '')})",
                    f"{started} [sandbox] {' '.join(c.get('command', []) + c.get('args', [])) or 'entrypoint'} "
                    "running"])
            api.store.update(pods_res, pod, check_rv=False, raw=True)
            if emit is not None:
                _container_events(pod, emit)
        elif status.get("phase") == "Running" and _is_job_pod(pod) and _finished(pod):
            code = int(meta.get("annotations", {}).get(EXIT_CODE, 0))
            status["phase"] = "Succeeded" if code == 0 else "Failed"
            for cs in status.get("containerStatuses", []):
                cs.update(ready=False, started=False, state={"terminated": {
                    "exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt":
                    status["startTime"], "finishedAt": now_iso()}})
            for cond in status["conditions"]:
                if cond["type"] in ("Ready", "ContainersReady"):
                    cond.update(status="False", reason="PodCompleted")
            api.store.update(pods_res, pod, check_rv=False, raw=True)


def _container_events(pod: dict, emit) -> None:
    """What a real kubelet records when it starts a pod's containers (image already on the node)."""
    node = pod["spec"]["nodeName"]
    for c in pod["spec"].get("containers", []):
        where = {"component": "kubelet", "host": node, "field_path": f"spec.containers{{{c['name']}}}"}
        emit(pod, "Pulled", f'Container image "{c.get("image", "")}" already present on machine', **where)
        emit(pod, "Created", f"Created container: {c['name']}", **where)
        emit(pod, "Started", f"Started container {c['name']}", **where)


def _container_status(container: dict, started: str) -> dict:
    return {"name": container["name"], "image": container.get("image", ""), "imageID": "sandbox://"
            + container.get("image", ""), "containerID": f"sandbox://{container['name']}", "ready": True,
            "started": True, "restartCount": 0, "state": {"running": {"startedAt": started}}}


def _pod_ip(uid: str) -> str:
    n = int(uid.replace("-", "")[:6], 16)
    return f"10.244.{(n >> 8) % 256}.{n % 254 + 1}"


def _is_job_pod(pod: dict) -> bool:
    return any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or [])


def _finished(pod: dict) -> bool:
    from datetime import UTC, datetime

    started = datetime.strptime(pod["status"]["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = float(pod["metadata"].get("annotations", {}).get(RUN_SECONDS, 1))
    return (datetime.now(UTC) - started).total_seconds() >= seconds


class Autoscaler:
    """The HPA formula: desired = ceil(current × utilisation / target), skipped within 10% tolerance."""

    def __init__(self, api: Api, *, interval: float):
        self.api, self.interval = api, interval
        self._last: dict[str, float] = {}
        self._history: dict[str, list[tuple[float, int]]] = {}

    def utilisation(self, pod: dict) -> float:
        if pod["metadata"]["uid"] in self.api.cpu:
            return self.api.cpu[pod["metadata"]["uid"]]
        for ns, predicate, value in self.api.cpu_rules:
            if ns == pod["metadata"]["namespace"] and predicate(pod["metadata"].get("labels")):
                return value
        return 0.0

    def run(self, emit) -> None:
        from .autoscale import reconcile_hpa

        hpa_res = self.api.res("autoscaling/v2", "horizontalpodautoscalers")
        for hpa in self.api.store.list(hpa_res):
            uid = hpa["metadata"]["uid"]
            if time.monotonic() - self._last.get(uid, 0) >= self.interval:
                self._last[uid] = time.monotonic()
                reconcile_hpa(self, hpa, emit)

