"""In-memory object store: one global resourceVersion counter, optimistic concurrency, a watch log.

Everything is guarded by one re-entrant lock; admission and controllers hold it across a
read-check-write so quota decisions cannot race. Objects handed out are deep copies.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from . import errors
from .registry import Resource

WATCH_LOG = 20000
# Kinds whose registry strategy keeps metadata.generation: workloads, policy, networking, CRDs and
# custom resources — not core/v1 objects (pods, services, namespaces, ...) nor RBAC or storage.
NO_GENERATION_GROUPS = {"", "rbac.authorization.k8s.io", "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
                        "events.k8s.io", "authorization.k8s.io"}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: str
    namespace: str
    obj: dict
    prev: dict | None


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._by_uid: dict[str, tuple[str, str, str]] = {}
        self.log: deque[Event] = deque(maxlen=WATCH_LOG)
        self._local = threading.local()

    @contextmanager
    def dry_run(self, enabled: bool = True):
        """``?dryRun=All``: every check runs, nothing is stored (per thread, so controllers are unaffected)."""
        self._local.dry = enabled
        try:
            yield
        finally:
            self._local.dry = False

    @property
    def is_dry(self) -> bool:
        return getattr(self._local, "dry", False)

    # Reads ---------------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> dict:
        with self.lock:
            obj = self._objects.get((res.key, namespace or "", name))
            if obj is None:
                raise errors.not_found(res.qualified, name)
            return copy.deepcopy(obj)

    def find(self, res: Resource, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self._objects.get((res.key, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def contains(self, res: Resource, namespace: str, name: str) -> bool:
        return (res.key, namespace or "", name) in self._objects

    def list(self, res: Resource, namespace: str | None = None) -> list[dict]:
        with self.lock:
            found = [(ns, name, o) for (k, ns, name), o in self._objects.items()
                     if k == res.key and (not namespace or ns == namespace)]
            return [copy.deepcopy(o) for _, _, o in sorted(found, key=lambda t: (t[0], t[1]))]

    def peek(self, res: Resource, namespace: str | None = None) -> list[dict]:
        """The stored objects themselves, for read-only scans under the lock (no copies; do not mutate)."""
        with self.lock:
            return [o for (k, ns, _), o in self._objects.items() if k == res.key and (not namespace or ns == namespace)]

    def namespaced_keys(self, namespace: str) -> list[tuple[str, str, str]]:
        with self.lock:
            return [k for k in self._objects if k[1] == namespace]

    def exists_uid(self, uid: str) -> bool:
        return uid in self._by_uid

    def all_items(self) -> list[tuple[tuple[str, str, str], dict]]:
        with self.lock:
            return list(self._objects.items())

    # Writes --------------------------------------------------------------------------------
    def _bump(self, typ: str, key: tuple[str, str, str], obj: dict | None, prev: dict | None) -> dict:
        self.rv += 1
        shown = obj if obj is not None else copy.deepcopy(prev)
        shown["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append(Event(self.rv, typ, key[0], key[1], copy.deepcopy(shown), prev))
        self.changed.notify_all()
        return copy.deepcopy(shown)

    def create(self, res: Resource, obj: dict) -> dict:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            key = (res.key, meta.get("namespace", "") if res.namespaced else "", meta["name"])
            if key in self._objects:
                raise errors.already_exists(res.qualified, meta["name"])
            if not res.namespaced:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            meta.pop("deletionTimestamp", None)
            if "spec" in obj and res.group not in NO_GENERATION_GROUPS:
                meta["generation"] = 1
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            if res.has_status:
                obj.setdefault("status", {})
            if self.is_dry:
                return copy.deepcopy(obj)
            self._objects[key] = obj
            self._by_uid[meta["uid"]] = key
            return self._bump("ADDED", key, obj, None)

    def update(self, res: Resource, obj: dict, *, subresource: str = "", check_rv: bool = True,
               raw: bool = False) -> dict:
        """Replace an object. ``check_rv``: a stale metadata.resourceVersion in ``obj`` is a 409.

        ``raw`` is for the simulated controllers: spec, status and system metadata are written as given.
        """
        with self.lock:
            meta = obj.setdefault("metadata", {})
            key = (res.key, meta.get("namespace", "") if res.namespaced else "", meta.get("name", ""))
            old = self._objects.get(key)
            if old is None:
                raise errors.not_found(res.qualified, meta.get("name", ""))
            sent_rv = meta.get("resourceVersion")
            if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.qualified, key[2])
            new = copy.deepcopy(obj)
            if subresource == "status":  # only status changes through /status
                new = copy.deepcopy(old) | {"status": new.get("status", {})}
            elif res.has_status and subresource == "" and not raw:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation") if not raw else ():
                if field in old["metadata"]:
                    new["metadata"][field] = old["metadata"][field]
                else:
                    new["metadata"].pop(field, None)
            if res.namespaced:
                new["metadata"]["namespace"] = key[1]
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            if "generation" in old["metadata"] and new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
            if self.is_dry:
                return new
            if (old["metadata"].get("deletionTimestamp") and old["metadata"].get("finalizers")
                    and not new["metadata"].get("finalizers")):
                return self._remove(key)  # the last finalizer is gone: deletion completes
            # (A Terminating pod without finalizers is only waiting out its grace: updates keep it.)
            if _same(old, new):
                return copy.deepcopy(old)  # no-op writes keep the resourceVersion, as in Kubernetes
            self._objects[key] = new
            return self._bump("MODIFIED", key, new, copy.deepcopy(old))

    def delete(self, res: Resource, namespace: str, name: str, *, uid: str = "", rv: str = "") -> dict:
        """Delete now, or mark with deletionTimestamp while finalizers remain. Returns the last state."""
        with self.lock:
            key = (res.key, namespace or "" if res.namespaced else "", name)
            old = self._objects.get(key)
            if old is None:
                raise errors.not_found(res.qualified, name)
            if (uid and uid != old["metadata"]["uid"]) or (rv and rv != old["metadata"]["resourceVersion"]):
                raise errors.conflict(res.qualified, name)
            if self.is_dry:
                return copy.deepcopy(old)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_iso()
                self._objects[key] = new
                return self._bump("MODIFIED", key, new, copy.deepcopy(old))
            return self._remove(key)

    def _remove(self, key: tuple[str, str, str]) -> dict:
        old = self._objects.pop(key)
        self._by_uid.pop(old["metadata"]["uid"], None)
        return self._bump("DELETED", key, None, old)


def _same(a: dict, b: dict) -> bool:
    strip = lambda o: {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "resourceVersion"}}  # noqa: E731
    return strip(a) == strip(b)
