"""The sandbox's own admin endpoints under /sandbox/ (not part of the Kubernetes API).

  POST   /sandbox/nodes                   {name, cpu, memory, pods, labels, taints, extended: {"nvidia.com/gpu": 2}}
  DELETE /sandbox/nodes/<name>            pods bound to it go away (their controllers replace them)
  POST   /sandbox/faults                  {"count": N, "status": 500|409, "methods": ["GET", ...]}
                                           {"count": N, "delay": 0.2, "methods": [...]}: slow, then served
  DELETE /sandbox/faults
  POST   /sandbox/pods/<ns>/<name>/cpu    {"utilization": 80}   (percent of the pod's CPU request)
  POST   /sandbox/cpu                     {"namespace", "labelSelector", "utilization"}: current and future pods
  POST   /sandbox/pods/<ns>/<name>/log    {"container": "c", "lines": ["..."]}
  POST   /sandbox/tokens                  {"token": "t", "user": "alice", "groups": ["tenant-a"]}
  POST   /sandbox/terminations            {"namespace": "ns"} (optional): Terminating pods finish their grace now
"""

from __future__ import annotations

import json

from . import errors
from .handlers import Api
from .selectors import parse_labels
from .store import now_iso

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def node_object(name: str, *, cpu="4", memory="16Gi", pods="110", labels=None, taints=None, extended=None) -> dict:
    """``extended``: extra allocatable resources, e.g. {"nvidia.com/gpu": "2"}."""
    capacity = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods), "ephemeral-storage": "100Gi",
                **{k: str(v) for k, v in (extended or {}).items()}}
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", **(labels or {})}},
            "spec": {"taints": taints or []} if taints else {},
            "status": {"capacity": capacity, "allocatable": dict(capacity),
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status", "lastHeartbeatTime": now_iso(),
                                       "lastTransitionTime": now_iso()}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname",
                                                                                   "address": name}],
                       "nodeInfo": {"kubeletVersion": "v1.31.0", "osImage": "BlueDock sandbox",
                                    "containerRuntimeVersion": "sandbox://1", "architecture": "amd64",
                                    "operatingSystem": "linux", "bootID": name, "kernelVersion": "6.1.0",
                                    "kubeProxyVersion": "v1.31.0", "machineID": name, "systemUUID": name}}}


def add_node(api: Api, name: str, **kwargs) -> dict:
    nodes = api.res("v1", "nodes")
    with api.store.lock:
        obj = node_object(name, **kwargs)
        created = api.store.create(nodes, obj)
        created["status"] = obj["status"]
        return api.store.update(nodes, created, raw=True)


def remove_node(api: Api, name: str) -> None:
    pods = api.res("v1", "pods")
    with api.store.lock:
        api.store.delete(api.res("v1", "nodes"), "", name)
        for pod in api.store.list(pods):
            if pod["spec"].get("nodeName") == name:
                api.store.delete(pods, pod["metadata"]["namespace"], pod["metadata"]["name"])


def handle(api: Api, method: str, path: str, body: bytes) -> tuple[int, dict]:
    data = json.loads(body or b"{}")
    parts = path.strip("/").split("/")[1:]
    try:
        if parts == ["nodes"] and method == "POST":
            fields = {k: data[k] for k in ("cpu", "memory", "pods", "labels", "taints", "extended") if k in data}
            return 201, add_node(api, data["name"], **fields)
        if parts[:1] == ["nodes"] and len(parts) == 2 and method == "DELETE":
            remove_node(api, parts[1])
            return 200, {"deleted": parts[1]}
        if parts == ["faults"] and method == "POST":
            delay = float(data.get("delay", 0))
            status = data.get("status", None if delay else 500)  # a delay alone: slow, then served as usual
            with api.faults_lock:
                api.faults.append({"count": int(data.get("count", 1)), "delay": delay,
                                   "status": int(status) if status is not None else None,
                                   "methods": [m.upper() for m in data.get("methods") or METHODS]})
            return 201, {"faults": api.faults}
        if parts == ["faults"] and method == "DELETE":
            with api.faults_lock:
                api.faults.clear()
            return 200, {"faults": []}
        if parts[:1] == ["pods"] and len(parts) == 4 and parts[3] == "cpu" and method == "POST":
            pod = api.store.get(api.res("v1", "pods"), parts[1], parts[2])
            api.cpu[pod["metadata"]["uid"]] = float(data["utilization"])
            return 200, {"utilization": api.cpu[pod["metadata"]["uid"]]}
        if parts == ["cpu"] and method == "POST":
            api.cpu_rules.insert(0, (data["namespace"], parse_labels(data.get("labelSelector")),
                                     float(data["utilization"])))
            return 201, {"utilization": float(data["utilization"])}
        if parts[:1] == ["pods"] and len(parts) == 4 and parts[3] == "log" and method == "POST":
            api.store.get(api.res("v1", "pods"), parts[1], parts[2])
            api.logs[(parts[1], parts[2], data["container"])].extend(f"{now_iso()} {line}" for line in data["lines"])
            return 201, {"lines": len(data["lines"])}
        if parts == ["terminations"] and method == "POST":
            from .termination import finish_due

            return 200, {"finished": finish_due(api, now=float("inf"), namespace=data.get("namespace"))}
        if parts == ["tokens"] and method == "POST":
            from .rbac import User

            api.tokens[data["token"]] = User(data["user"], tuple(data.get("groups") or ()) + ("system:authenticated",))
            api.strict_tokens = True
            return 201, {"user": data["user"]}
    except errors.ApiError as exc:
        return exc.code, exc.status()
    except (KeyError, ValueError) as exc:
        return 400, errors.bad_request(f"bad sandbox admin request: {exc}").status()
    return 404, errors.ApiError(404, "NotFound", f"no sandbox admin endpoint {method} {path}").status()
