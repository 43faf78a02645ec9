"""One HPA pass (autoscaling/v1 and v2 objects share storage, so both spec shapes are read).

Utilisation is simulated per pod (percent of its CPU request; see admin.py). Kubernetes' rules
kept: 10% tolerance, min/max clamp, scale-up limited to max(2×current, 4) per pass, scale-down
only to the highest recommendation within the stabilisation window (default 300 s).
"""

from __future__ import annotations

import copy
import math
import time

from . import ssa
from .admission import TERMINAL
from .selectors import match_label_selector
from .store import now_iso

TOLERANCE = 0.1


def target_utilisation(hpa: dict) -> int:
    spec = hpa["spec"]
    if "targetCPUUtilizationPercentage" in spec:
        return int(spec["targetCPUUtilizationPercentage"])
    for metric in spec.get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            return int((resource.get("target") or {}).get("averageUtilization", 80))
    return 80


def reconcile_hpa(scaler, hpa: dict, emit) -> None:
    api = scaler.api
    ns, spec = hpa["metadata"]["namespace"], hpa["spec"]
    ref = spec.get("scaleTargetRef") or {}
    res = api.registry.by_kind(ref.get("apiVersion", "apps/v1"), ref.get("kind", ""))
    target = api.store.find(res, ns, ref.get("name", "")) if res else None
    if target is None:
        return
    current = target["spec"].get("replicas", 1)
    pods = [p for p in api.store.peek(api.res("v1", "pods"), ns)
            if match_label_selector(target["spec"].get("selector"), p["metadata"].get("labels"))
            and p["status"].get("phase") == "Running" and p["status"].get("phase") not in TERMINAL]
    goal = target_utilisation(hpa)
    status = hpa.setdefault("status", {})
    if not pods:
        return
    utilisation = round(sum(scaler.utilisation(p) for p in pods) / len(pods))
    ratio = utilisation / goal if goal else 1.0
    desired = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(ratio * len(pods))
    desired = min(desired, max(2 * current, 4))
    lo, hi = spec.get("minReplicas", 1), spec["maxReplicas"]
    desired = max(lo, min(hi, desired))
    uid, now = hpa["metadata"]["uid"], time.monotonic()
    window = ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds", 300)
    # Like the HPA controller, a new autoscaler's history starts with the current size.
    history = [(t, d) for t, d in scaler._history.get(uid, [(now, current)]) if now - t <= window] + [(now, desired)]
    scaler._history[uid] = history
    if desired < current:
        desired = min(current, max(d for _, d in history))
    if desired != current:
        before = copy.deepcopy(target)
        target["spec"]["replicas"] = desired
        # Through the scale subresource, as the HPA does: a later apply of replicas conflicts, as in Kubernetes.
        ssa.track_update(before, target, manager="kube-controller-manager")
        api.store.update(res, target, check_rv=False, raw=True)
        status["lastScaleTime"] = now_iso()
        direction = "above" if desired > current else "below"
        emit(hpa, "SuccessfulRescale", f"New size: {desired}; reason: cpu resource utilization (percentage of "
             f"request) {direction} target")
    status.update(currentReplicas=current, desiredReplicas=desired)
    limited = desired in (lo, hi) and desired != math.ceil(ratio * len(pods))
    status["conditions"] = [
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
         "message": "recommended size matches current size"},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound",
         "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization "
                    "(percentage of request)"},
        {"type": "ScalingLimited", "status": "True" if limited else "False",
         "reason": ("TooFewReplicas" if desired == lo else "TooManyReplicas") if limited else "DesiredWithinRange",
         "message": "the desired replica count is " + ("limited" if limited else "within the acceptable range")}]
    for cond in status["conditions"]:
        cond.setdefault("lastTransitionTime", now_iso())
    if "targetCPUUtilizationPercentage" in spec:
        status["currentCPUUtilizationPercentage"] = utilisation
    else:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": utilisation}}}]
    from .controllers import put

    put(api, api.res(hpa["apiVersion"], "horizontalpodautoscalers"), hpa)
