"""Version conversion for kinds served at two versions from one storage (HPA: stored as autoscaling/v2).

Only what v1 can express survives a round trip through v1, as in Kubernetes (which keeps the rest
in annotations; the sandbox drops it)."""

from __future__ import annotations

import copy

STORAGE = {"autoscaling/horizontalpodautoscalers": "autoscaling/v2"}


def storage_version(res) -> str:
    return STORAGE.get(res.key, res.api_version)


def to_storage(res, obj: dict) -> dict:
    if storage_version(res) == res.api_version or not obj:
        return obj
    out = copy.deepcopy(obj)
    out["apiVersion"] = storage_version(res)
    spec, status = out.setdefault("spec", {}), out.get("status") or {}
    if "targetCPUUtilizationPercentage" in spec:
        target = spec.pop("targetCPUUtilizationPercentage")
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}}]
    if "currentCPUUtilizationPercentage" in status:
        status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status.pop("currentCPUUtilizationPercentage")}}}]
    return out


def from_storage(res, obj: dict) -> dict:
    if storage_version(res) == res.api_version or not obj:
        return obj
    out = copy.deepcopy(obj)
    if "apiVersion" in out:
        out["apiVersion"] = res.api_version
    spec, status = out.setdefault("spec", {}), out.get("status") or {}
    for metric in spec.pop("metrics", None) or []:
        if metric.get("type") == "Resource" and metric["resource"].get("name") == "cpu":
            spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"].get("averageUtilization")
    spec.pop("behavior", None)
    for metric in status.pop("currentMetrics", None) or []:
        if metric.get("type") == "Resource" and metric["resource"].get("name") == "cpu":
            status["currentCPUUtilizationPercentage"] = metric["resource"]["current"].get("averageUtilization")
    status.pop("conditions", None)
    return out
