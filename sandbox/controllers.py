"""Simulated kube-controller-manager: deployments, replicasets, statefulsets, daemonsets, jobs,
garbage collection, namespace lifecycle and quota status. Scheduling, the kubelet and the HPA
live in ``kubelet.py``. One background thread; each controller holds the store lock only for
its own pass, so API requests interleave with ticks.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import uuid

from . import errors, kubelet, quantity, termination
from .admission import TERMINAL, quota_usage
from .handlers import Api, random_suffix
from .registry import Resource
from .selectors import match_label_selector
from .store import now_iso

MANAGER = "kube-controller-manager"
CA_CERT = "-----BEGIN CERTIFICATE-----\nsandbox (plain HTTP, no CA)\n-----END CERTIFICATE-----\n"


class Controllers:
    def __init__(self, api: Api, *, tick: float = 0.05, periodic: float = 0.25, hpa_interval: float = 1.0):
        self.api, self.tick, self.periodic = api, tick, periodic
        self.hpa = kubelet.Autoscaler(api, interval=hpa_interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events: dict[tuple, str] = {}
        self._owned: dict[str, dict[str, list[dict]]] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sandbox-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        seen, last_full = -1, 0.0
        while not self._stop.wait(self.tick):
            # Work only when something changed, or periodically for time-driven steps (jobs, HPA).
            changed = self.api.store.rv != seen
            if not changed and time.monotonic() - last_full < self.periodic:
                continue
            seen, last_full = self.api.store.rv, time.monotonic()
            try:
                self.run_once() if changed else self.run_timed()
            except Exception:  # noqa: BLE001 - a controller bug must not kill the sandbox; print it
                import traceback

                traceback.print_exc()

    def run_timed(self) -> None:
        """Nothing changed: only time moves job pods to completion and HPAs to their next sync."""
        termination.finish_due(self.api)
        with self.api.store.lock:
            kubelet.run_kubelet(self.api, self.emit)
        with self.api.store.lock:
            self.hpa.run(self.emit)

    def run_once(self) -> None:
        termination.finish_due(self.api)
        for step in (self.namespaces, self.garbage_collect, self.deployments, self.replicasets, self.statefulsets,
                     self.daemonsets, self.jobs, self.quotas):
            with self.api.store.lock:
                self._owned = {}
                step()
        with self.api.store.lock:
            kubelet.place(self.api, self.emit)
        with self.api.store.lock:
            kubelet.run_kubelet(self.api, self.emit)
        with self.api.store.lock:
            self.hpa.run(self.emit)

    # Helpers -------------------------------------------------------------------------------
    def r(self, gv: str, plural: str) -> Resource:
        return self.api.res(gv, plural)

    def put(self, res: Resource, obj: dict) -> dict:
        """Write a controller's view; unchanged conditions keep their timestamps so no-op passes stay no-ops."""
        return put(self.api, res, obj)

    def owned(self, res: Resource, owner: dict) -> list[dict]:
        """Dependents by owner uid, from one listing per step (each owner only changes its own dependents)."""
        if res.key not in self._owned:
            index: dict[str, list[dict]] = {}
            for obj in self.api.store.list(res):
                for ref in obj["metadata"].get("ownerReferences") or []:
                    index.setdefault(ref.get("uid"), []).append(obj)
            self._owned[res.key] = index
        return self._owned[res.key].get(owner["metadata"]["uid"], [])

    def emit(self, obj: dict, reason: str, message: str, *, type: str = "Normal",  # noqa: A002
             component: str = MANAGER, host: str = "", field_path: str = ""):
        """Record a core/v1 Event as the API server stores one (a repeat bumps ``count``)."""
        events, meta = self.r("v1", "events"), obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message)
        existing = self.api.store.find(events, ns, self._events.get(key, ""))
        if existing:
            existing["count"] = existing.get("count", 1) + 1
            existing["lastTimestamp"] = now_iso()
            self.put(events, existing)
            return
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        self._events[key] = name
        involved = {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta["name"],
                    "uid": meta["uid"], "apiVersion": obj.get("apiVersion"), "resourceVersion": meta.get(
                        "resourceVersion")}
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component, **({"host": host} if host else {})}
        self.api.store.create(events, {"metadata": {"name": name, "namespace": ns}, "involvedObject": involved,
                                       "reason": reason, "message": message, "type": type, "count": 1,
                                       "firstTimestamp": now_iso(), "lastTimestamp": now_iso(),
                                       "source": source, "reportingComponent": component,
                                       "reportingInstance": host})

    def create_pod(self, owner: dict, template: dict, name: str, labels: dict, node: str = "") -> bool:
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.update(name=name, namespace=owner["metadata"]["namespace"], labels={**meta.get("labels", {}), **labels})
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "uid":
                                    owner["metadata"]["uid"], "name": owner["metadata"]["name"], "controller": True,
                                    "blockOwnerDeletion": True}]
        spec = copy.deepcopy(template.get("spec") or {})
        if node:
            spec["nodeName"] = node
        try:
            self.api.create(self.r("v1", "pods"), meta["namespace"], {"metadata": meta, "spec": spec}, manager=MANAGER)
        except errors.ApiError as exc:
            self.emit(owner, "FailedCreate", f"Error creating: {exc.message}", type="Warning")
            return False
        self.emit(owner, "SuccessfulCreate", f"Created pod: {name}")
        return True

    def delete_pod(self, pod: dict) -> None:
        self.api.store.delete(self.r("v1", "pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])

    # Lifecycle -----------------------------------------------------------------------------
    def namespaces(self) -> None:
        store = self.api.store
        # peek/contains, not list/find: this runs after every change, over every namespace.
        for ns in list(store.peek(self.api.ns_res)):
            name = ns["metadata"]["name"]
            if ns["metadata"].get("deletionTimestamp"):
                for key in store.namespaced_keys(name):
                    res = _res_for_key(self.api, key[0])
                    if res and store.find(res, name, key[2]) is not None:
                        store.delete(res, name, key[2])
                store.delete(self.api.ns_res, "", name)
                continue
            sa, cm = self.r("v1", "serviceaccounts"), self.r("v1", "configmaps")
            if not store.contains(sa, name, "default"):
                store.create(sa, {"metadata": {"name": "default", "namespace": name}})
            if not store.contains(cm, name, "kube-root-ca.crt"):
                store.create(cm, {"metadata": {"name": "kube-root-ca.crt", "namespace": name},
                                  "data": {"ca.crt": CA_CERT}})

    def garbage_collect(self) -> None:
        """Background propagation: an object whose owners are all gone is deleted."""
        store = self.api.store
        for (key, ns, name), obj in store.all_items():
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(store.exists_uid(ref.get("uid", "")) for ref in refs):
                res = _res_for_key(self.api, key)
                if res and store.find(res, ns, name) is not None:
                    store.delete(res, ns, name)

    def quotas(self) -> None:
        quotas, pods = self.r("v1", "resourcequotas"), self.r("v1", "pods")
        # One scan of the pods for all quotas: a scan per quota made every pass quadratic.
        pods_by_namespace: dict[str, list[dict]] = {}
        for pod in self.api.store.peek(pods):
            pods_by_namespace.setdefault(pod["metadata"].get("namespace", ""), []).append(pod)
        for q in self.api.store.peek(quotas):
            used = quota_usage(q, pods_by_namespace.get(q["metadata"]["namespace"], []))
            hard = q.get("spec", {}).get("hard", {})
            status = {"hard": dict(hard), "used": {k: quantity.fmt_like(v, hard[k]) for k, v in used.items()}}
            if q.get("status") != status:
                self.put(quotas, {**q, "status": status})

    # Workloads -----------------------------------------------------------------------------
    def deployments(self) -> None:
        from .workloads import reconcile_deployment

        for d in self.api.store.list(self.r("apps/v1", "deployments")):
            if not d["metadata"].get("deletionTimestamp") and not d["spec"].get("paused"):
                reconcile_deployment(self, d)

    def replicasets(self) -> None:
        for rs in self.api.store.list(self.r("apps/v1", "replicasets")):
            # Terminating pods no longer count (FilterActivePods): the replacement starts during their grace.
            pods = [p for p in self.owned(self.r("v1", "pods"), rs) if p["status"].get("phase") not in TERMINAL
                    and not p["metadata"].get("deletionTimestamp")]
            want = rs["spec"].get("replicas", 1)
            for _ in range(want - len(pods)):
                if not self.create_pod(rs, rs["spec"]["template"], f"{rs['metadata']['name']}-{random_suffix()}", {}):
                    break
            # Scale down the least useful first: unscheduled, then not running, then newest.
            doomed = sorted(pods, key=lambda p: (bool(p["spec"].get("nodeName")), p["status"].get("phase") ==
                                                 "Running", _neg_ts(p)))[: max(0, len(pods) - want)]
            for pod in doomed:
                self.delete_pod(pod)
            alive = [p for p in pods if p not in doomed]
            ready = sum(1 for p in alive if kubelet.is_ready(p))
            rs["status"] = {"replicas": len(alive), "fullyLabeledReplicas": len(alive), "readyReplicas": ready,
                            "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
            self.put(self.r("apps/v1", "replicasets"), rs)

    def statefulsets(self) -> None:
        from .workloads import reconcile_statefulset

        for sts in self.api.store.list(self.r("apps/v1", "statefulsets")):
            reconcile_statefulset(self, sts)

    def daemonsets(self) -> None:
        from .workloads import reconcile_daemonset

        for ds in self.api.store.list(self.r("apps/v1", "daemonsets")):
            reconcile_daemonset(self, ds)

    def jobs(self) -> None:
        from .workloads import reconcile_job

        for job in self.api.store.list(self.r("batch/v1", "jobs")):
            reconcile_job(self, job)


def put(api: Api, res: Resource, obj: dict) -> dict:
    old = api.store.find(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) or {}
    before = {c["type"]: c for c in old.get("status", {}).get("conditions", [])}
    for cond in obj.get("status", {}).get("conditions", []):
        prev = before.get(cond["type"])
        if prev and all(prev.get(k) == cond.get(k) for k in ("status", "reason", "message")):
            cond.update({k: v for k, v in prev.items() if k.endswith("Time")})
    return api.store.update(res, obj, check_rv=False, raw=True)


def template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return "".join(c for c in digest if c in "bcdfghjklmnpqrstvwxz2456789")[:10]


def matches(selector: dict | None, obj: dict) -> bool:
    return match_label_selector(selector, obj["metadata"].get("labels"))


def _neg_ts(obj: dict) -> str:
    ts = obj["metadata"].get("creationTimestamp", "")
    return "".join(chr(0x7F - ord(c)) for c in ts)  # newest first when sorted ascending


def _res_for_key(api: Api, key: str) -> Resource | None:
    return next((r for table in api.registry.group_versions().values() for r in table if r.key == key), None)
