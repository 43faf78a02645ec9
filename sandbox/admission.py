"""Defaulting and admission on create: names, LimitRange defaults, ResourceQuota enforcement.

Messages are the API server's (v1.20 wording) so the portal's error handling sees what it will
see in production.
"""

from __future__ import annotations

import re
from fractions import Fraction

from . import errors, quantity
from .registry import Resource
from .selectors import match_label_selector

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                  "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                  "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS_LABEL_KINDS = {"namespaces", "services"}
TERMINAL = ("Succeeded", "Failed")


def validate_name(res: Resource, obj: dict) -> None:
    name = obj.get("metadata", {}).get("name", "")
    if not name:
        raise errors.invalid(res.kind, "", [("metadata.name", "Required value: name or generateName is required")])
    label = res.plural in DNS_LABEL_KINDS
    pattern, msg, limit = (_LABEL, _LABEL_MSG, 63) if label else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253)
    if not pattern.fullmatch(name) or len(name) > limit:  # as Go's '$': a final newline is no match either
        raise errors.invalid(res.kind, name, [("metadata.name", f'Invalid value: "{name}": {msg}')])


def default_pod(pod: dict) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("priority", 0)
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        res = c.setdefault("resources", {})
        for name, value in (res.get("limits") or {}).items():  # requests default to limits
            res.setdefault("requests", {}).setdefault(name, value)
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", _qos(spec))
    if spec.get("schedulingGates"):
        status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                                 "message": "Scheduling is blocked due to non-empty scheduling gates"}]


SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


def resolve_priority(pod: dict, classes: list[dict]) -> None:
    """The Priority admission plugin: priorityClassName → spec.priority (or the global default class)."""
    spec, name = pod["spec"], pod["spec"].get("priorityClassName")
    values = {c["metadata"]["name"]: c.get("value", 0) for c in classes} | SYSTEM_PRIORITIES
    if name:
        if name not in values:
            raise errors.forbidden("pods", pod["metadata"]["name"], f"no PriorityClass with name {name} was found")
        spec["priority"] = values[name]
    else:
        default = next((c for c in classes if c.get("globalDefault")), None)
        if default:
            spec["priorityClassName"], spec["priority"] = default["metadata"]["name"], default.get("value", 0)
    spec["preemptionPolicy"] = next((c.get("preemptionPolicy") for c in classes if c["metadata"]["name"] ==
                                     spec.get("priorityClassName") and c.get("preemptionPolicy")),
                                    "PreemptLowerPriority")


def _qos(spec: dict) -> str:
    containers = spec.get("containers", [])
    resources = [c.get("resources", {}) for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(r.get("limits", {}).get(k) and r.get("requests", {}).get(k) == r["limits"][k]
                     for r in resources for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def default_limit_range(lr: dict) -> None:
    """LimitRange API defaults: default ← max, defaultRequest ← default."""
    for item in lr.get("spec", {}).get("limits", []):
        if item.get("type") == "Container":
            for name, value in (item.get("max") or {}).items():
                item.setdefault("default", {}).setdefault(name, value)
            for name, value in (item.get("default") or {}).items():
                item.setdefault("defaultRequest", {}).setdefault(name, value)


def apply_limit_ranges(pod: dict, limit_ranges: list[dict]) -> None:
    for lr in limit_ranges:
        for item in lr.get("spec", {}).get("limits", []):
            if item.get("type") != "Container":
                continue
            for c in pod["spec"].get("initContainers", []) + pod["spec"].get("containers", []):
                res = c.setdefault("resources", {})
                for name, value in (item.get("default") or {}).items():
                    res.setdefault("limits", {}).setdefault(name, value)
                for name, value in (item.get("defaultRequest") or {}).items():
                    res.setdefault("requests", {}).setdefault(name, value)
                for name, value in (res.get("limits") or {}).items():
                    res.setdefault("requests", {}).setdefault(name, value)
                _check_max(pod, c, item)


def _check_max(pod: dict, container: dict, item: dict) -> None:
    for name, value in (item.get("max") or {}).items():
        limit = (container["resources"].get("limits") or {}).get(name)
        if limit is None:
            why = f"maximum {name} usage per Container is {value}.  No limit is specified"
        elif quantity.parse(limit) > quantity.parse(value):
            why = f"maximum {name} usage per Container is {value}, but limit is {limit}"
        else:
            continue
        raise errors.forbidden("pods", pod["metadata"]["name"], why)


def pod_usage(pod: dict) -> dict[str, Fraction]:
    """What a pod counts against quota (and placement): sum of containers, at least the largest init."""
    usage: dict[str, Fraction] = {"pods": Fraction(1)}
    spec = pod.get("spec", {})
    for kind in ("requests", "limits"):
        totals: dict[str, Fraction] = {}
        for c in spec.get("containers", []):
            for name, value in ((c.get("resources") or {}).get(kind) or {}).items():
                totals[name] = totals.get(name, Fraction(0)) + quantity.parse(value)
        for c in spec.get("initContainers", []):
            for name, value in ((c.get("resources") or {}).get(kind) or {}).items():
                totals[name] = max(totals.get(name, Fraction(0)), quantity.parse(value))
        for name, value in totals.items():
            usage[f"{kind}.{name}"] = value
            if kind == "requests" and "." not in name:
                usage[name] = value
    return usage


def _missing(pod: dict, hard: dict) -> list[str]:
    missing = set()
    for res in hard:
        kind, _, name = res.partition(".")
        if kind in ("requests", "limits") and name in ("cpu", "memory"):
            for c in pod["spec"].get("containers", []):
                if name not in ((c.get("resources") or {}).get(kind) or {}):
                    missing.add(res)
    return sorted(missing)


def quota_usage(quota: dict, pods: list[dict]) -> dict[str, Fraction]:
    used = {name: Fraction(0) for name in quota.get("spec", {}).get("hard", {})}
    for pod in pods:
        if pod.get("status", {}).get("phase") in TERMINAL or not _in_scope(quota, pod):
            continue
        for name, value in pod_usage(pod).items():
            if name in used:
                used[name] += value
    return used


def _in_scope(quota: dict, pod: dict) -> bool:
    selector = quota.get("spec", {}).get("scopeSelector")
    if not selector:
        return True
    for expr in selector.get("matchExpressions", []):
        if expr.get("scopeName") == "PriorityClass":
            sel = {"matchExpressions": [{"key": "p", "operator": expr["operator"], "values": expr.get("values", [])}]}
            if not match_label_selector(sel, {"p": pod["spec"].get("priorityClassName", "")}):
                return False
    return True


def check_quotas(pod: dict, quotas: list[dict], pods: list[dict]) -> None:
    """Raise 403 with Kubernetes' text if admitting ``pod`` would exceed any quota in its namespace."""
    name = pod["metadata"]["name"]
    requested = pod_usage(pod)
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        if not _in_scope(quota, pod):
            continue
        hard = quota.get("spec", {}).get("hard", {})
        if missing := _missing(pod, hard):
            raise errors.forbidden("pods", name, f"failed quota: {quota['metadata']['name']}: must specify "
                                   + ",".join(missing))
        used = quota_usage(quota, pods)
        over = sorted(r for r in hard if r in requested and used[r] + requested[r] > quantity.parse(hard[r]))
        if over:
            req = ",".join(f"{r}={quantity.format(requested[r], binary=quantity.is_binary(hard[r]))}" for r in over)
            use = ",".join(f"{r}={quantity.fmt_like(used[r], hard[r])}" for r in over)
            lim = ",".join(f"{r}={quantity.fmt_like(quantity.parse(hard[r]), hard[r])}" for r in over)
            raise errors.forbidden("pods", name, f"exceeded quota: {quota['metadata']['name']}, requested: {req}, "
                                   f"used: {use}, limited: {lim}")
