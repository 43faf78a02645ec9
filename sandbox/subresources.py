"""Subresources: scale, binding, eviction, log (status goes through ``Api.replace``/``patch``)."""

from __future__ import annotations

import copy
import json

from . import errors, patch, ssa
from .handlers import Api
from .registry import Resource
from .selectors import match_label_selector

SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _selector_string(selector: dict | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for e in (selector or {}).get("matchExpressions", []):
        op = {"In": "in", "NotIn": "notin"}.get(e["operator"])
        parts.append(f"{e['key']} {op} ({','.join(e.get('values', []))})" if op else
                     (e["key"] if e["operator"] == "Exists" else f"!{e['key']}"))
    return ",".join(parts)


def scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                       "selector": _selector_string(obj["spec"].get("selector"))}}


def scale(api: Api, res: Resource, ns: str, name: str, method: str, body: bytes, content_type: str, *,
          manager: str = "") -> dict:
    with api.store.lock:
        obj = api.store.get(res, ns, name)
        if method == "GET":
            return scale_of(obj)
        current = scale_of(obj)
        wanted = json.loads(body or b"{}") if method == "PUT" else patch.apply_patch(content_type, current, body)
        sent_rv = wanted.get("metadata", {}).get("resourceVersion")
        if method == "PUT" and sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(res.qualified, name)
        before = copy.deepcopy(obj)
        obj["spec"]["replicas"] = int(wanted.get("spec", {}).get("replicas", 0))
        ssa.track_update(before, obj, manager=manager)
        return scale_of(api.store.update(res, obj, check_rv=False))


def binding(api: Api, ns: str, name: str, body: dict) -> dict:
    pods = api.res("v1", "pods")
    with api.store.lock:
        pod = api.store.get(pods, ns, name)
        node = (body.get("target") or {}).get("name", "")
        if pod["spec"].get("nodeName"):
            raise errors.ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod '
                                  f'{name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                                  {"name": name, "kind": "pods/binding"})
        bind(api, pod, node)
        return SUCCESS


def bind(api: Api, pod: dict, node: str) -> dict:
    pod["spec"]["nodeName"] = node
    conditions = [c for c in pod["status"].get("conditions", []) if c["type"] != "PodScheduled"]
    pod["status"]["conditions"] = conditions + [{"type": "PodScheduled", "status": "True"}]
    return api.store.update(api.res("v1", "pods"), pod, check_rv=False, raw=True)


def eviction(api: Api, ns: str, name: str, body: dict) -> dict:
    """Evict unless a PodDisruptionBudget would be violated (429, as the API server answers)."""
    pods = api.res("v1", "pods")
    with api.store.lock:
        pod = api.store.get(pods, ns, name)
        if pod["status"].get("phase") == "Running":
            for pdb in api.store.list(api.res("policy/v1", "poddisruptionbudgets"), ns):
                selected = match_label_selector(pdb["spec"].get("selector"), pod["metadata"].get("labels"))
                if selected and not _pdb_allows(api, pdb, ns):
                    cause = {"reason": "DisruptionBudget", "message": f"The disruption budget "
                             f"{pdb['metadata']['name']} needs {_min_available(pdb)} healthy pods"}
                    raise errors.ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's "
                                          "disruption budget.", {"causes": [cause]})
        api.delete(pods, ns, name, body.get("deleteOptions") or {})
        return SUCCESS


def _healthy(api: Api, pdb: dict, ns: str) -> list[dict]:
    return [p for p in api.store.list(api.res("v1", "pods"), ns)
            if match_label_selector(pdb["spec"].get("selector"), p["metadata"].get("labels"))
            and p["status"].get("phase") == "Running"]


def _min_available(pdb: dict) -> int:
    return int(str(pdb["spec"].get("minAvailable", 0)).rstrip("%") or 0)


def _pdb_allows(api: Api, pdb: dict, ns: str) -> bool:
    healthy = len(_healthy(api, pdb, ns))
    if "maxUnavailable" in pdb["spec"]:
        return int(str(pdb["spec"]["maxUnavailable"]).rstrip("%")) >= 1
    return healthy - 1 >= _min_available(pdb)


def log(api: Api, ns: str, name: str, query: dict) -> str:
    pod = api.store.get(api.res("v1", "pods"), ns, name)
    containers = [c["name"] for c in pod["spec"].get("containers", [])]
    container = query.get("container") or (containers[0] if len(containers) == 1 else "")
    if not container:
        raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                 f"[{' '.join(containers)}]")
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    if pod["status"].get("phase") == "Pending":
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    lines = list(api.logs.get((ns, name, container), []))
    if query.get("tailLines"):
        lines = lines[-int(query["tailLines"]):] if int(query["tailLines"]) else []
    if query.get("timestamps") not in ("true", "1"):
        lines = [line.split(" ", 1)[1] for line in lines]
    return "".join(line + "\n" for line in lines)
