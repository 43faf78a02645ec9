"""The API verbs over the store: create, get, list, replace, patch, apply, delete, deletecollection.

Each handler runs under the store's lock, so read-modify-write (patch, admission against quota)
is atomic, exactly like a single etcd transaction would make it.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import defaultdict

from . import admission, errors, patch, ssa, termination
from .convert import from_storage, storage_version, to_storage
from .registry import Registry, Resource
from .selectors import parse_fields, parse_labels
from .store import Store, now_iso

# Go's non-omitempty integers: a fresh object's status already carries these zeros.
INITIAL_STATUS = {"statefulsets": {"replicas": 0, "availableReplicas": 0}, "replicasets": {"replicas": 0},
                  "daemonsets": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                                 "numberReady": 0},
                  "horizontalpodautoscalers": {"currentReplicas": 0, "desiredReplicas": 0}}
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_ALNUM) for _ in range(n))


class Api:
    """Everything one sandbox holds: the resource table, the objects, and simulated node state."""

    def __init__(self):
        self.registry = Registry()
        self.store = Store()
        self.logs: dict[tuple[str, str, str], list[str]] = defaultdict(list)  # (ns, pod, container) -> lines
        self.cpu: dict[str, float] = {}  # pod uid -> simulated CPU utilisation in % of its request
        self.cpu_rules: list[tuple[str, object, float]] = []  # (namespace, label predicate, utilisation)
        self.faults: list[dict] = []
        self.terminations: dict[str, float] = {}  # pod uid -> when its grace ends (epoch seconds)
        self.faults_lock = threading.Lock()
        self.tokens: dict = {}  # bearer token -> rbac.User
        self.strict_tokens = False  # set once a token is registered: unknown tokens get 401
        self.server_address = "127.0.0.1:0"

    def res(self, api_version: str, plural: str) -> Resource:
        return self.registry.get(api_version, plural)

    def storage(self, res: Resource) -> Resource:
        return self.registry.get(storage_version(res), res.plural) or res

    @property
    def ns_res(self) -> Resource:
        return self.registry.get("v1", "namespaces")

    # Reads ---------------------------------------------------------------------------------
    def get(self, res: Resource, ns: str, name: str) -> dict:
        return from_storage(res, self.store.get(res, ns, name))

    def list(self, res: Resource, ns: str | None, query: dict) -> dict:
        labels = parse_labels(query.get("labelSelector"))
        fields = parse_fields(query.get("fieldSelector"))
        with self.store.lock:
            items = [from_storage(res, o) for o in self.store.list(res, ns)
                     if labels(o["metadata"].get("labels")) and fields(o)]
            rv = str(self.store.rv)
        for item in items:  # list items carry no kind/apiVersion in Kubernetes' JSON
            item.pop("kind", None)
            item.pop("apiVersion", None)
        meta = {"resourceVersion": rv}
        items = _paginate(items, query, meta)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta, "items": items}

    # Writes --------------------------------------------------------------------------------
    def create(self, res: Resource, ns: str, body: dict, *, manager: str, track: bool = True) -> dict:
        shown, res, body = res, self.storage(res), to_storage(res, body)
        with self.store.lock:
            meta = body.setdefault("metadata", {})
            if res.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                             "sent on the request")
                meta["namespace"] = ns
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            admission.validate_name(res, body)
            if res.namespaced:
                self._check_namespace(res, ns, meta["name"])
            self._defaults(res, body)
            if track:
                ssa.track_update(None, body, manager=manager)
            created = self.store.create(res, body)
            if res.plural == "customresourcedefinitions" and not self.store.is_dry:
                self.registry.register_crd(created)
            return from_storage(shown, created)

    def _check_namespace(self, res: Resource, ns: str, name: str) -> None:
        namespace = self.store.find(self.ns_res, "", ns)
        if namespace is None:
            raise errors.not_found("namespaces", ns)
        if namespace["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(res.qualified, name, f"unable to create new content in namespace {ns} because "
                                   "it is being terminated")

    def _defaults(self, res: Resource, obj: dict) -> None:
        spec = obj.get("spec")
        if res.plural in INITIAL_STATUS and res.group in ("apps", "autoscaling"):
            obj["status"] = INITIAL_STATUS[res.plural] | (obj.get("status") or {})
        if res.key == "/namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif res.key == "/pods":
            admission.default_pod(obj)
            ns = obj["metadata"]["namespace"]
            admission.resolve_priority(obj, self.store.peek(self.res("scheduling.k8s.io/v1", "priorityclasses")))
            admission.apply_limit_ranges(obj, self.store.list(self.res("v1", "limitranges"), ns))
            admission.check_quotas(obj, self.store.list(self.res("v1", "resourcequotas"), ns),
                                   self.store.list(res, ns))
        elif res.key == "/secrets":  # stringData is write-only: it lands base64-encoded in data
            for key, value in (obj.pop("stringData", None) or {}).items():
                obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
            obj.setdefault("type", "Opaque")
        elif res.key == "/limitranges":
            admission.default_limit_range(obj)
        elif res.key == "/services" and spec is not None:
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") != "None":
                spec.setdefault("clusterIP", f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}")
            spec.setdefault("sessionAffinity", "None")
        elif res.group in ("apps", "batch") and spec is not None:
            if res.plural in ("deployments", "replicasets", "statefulsets"):
                spec.setdefault("replicas", 1)
            if res.plural == "deployments":
                spec.setdefault("strategy", {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
                spec.setdefault("revisionHistoryLimit", 10)
            if res.plural == "jobs":
                spec.setdefault("completions", 1)
                spec.setdefault("parallelism", 1)
                spec.setdefault("backoffLimit", 6)
        elif res.plural == "horizontalpodautoscalers" and spec is not None:
            spec.setdefault("minReplicas", 1)

    def replace(self, res: Resource, ns: str, name: str, body: dict, *, manager: str, subresource: str = "",
                track: bool = True) -> dict:
        shown, res, body = res, self.storage(res), to_storage(res, body)
        with self.store.lock:
            meta = body.setdefault("metadata", {})
            if meta.get("name") != name:
                raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                                         f"the URL ({name})")
            if res.namespaced:
                meta.setdefault("namespace", ns)
                if meta["namespace"] != ns:
                    raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                             "sent on the request")
            old = self.store.get(res, ns, name)
            if res.key == "/pods":
                _validate_pod_update(old, body)
            if track and subresource != "status":
                ssa.track_update(old, body, manager=manager)
            updated = self.store.update(res, body, subresource=subresource)
            if res.plural == "customresourcedefinitions" and not self.store.is_dry:
                self.registry.register_crd(updated)
            return from_storage(shown, updated)

    def patch(self, res: Resource, ns: str, name: str, body: bytes, *, content_type: str, manager: str,
              force: bool, subresource: str = "") -> dict:
        with self.store.lock:
            if content_type.startswith("application/apply-patch"):
                return self._apply(res, ns, name, body, manager=manager, force=force, subresource=subresource)
            current = self.get(res, ns, name)
            patched = patch.apply_patch(content_type, current, body)
            patched.setdefault("metadata", {})["name"] = name
            return self.replace(res, ns, name, patched, manager=manager, subresource=subresource)

    def _apply(self, res, ns, name, body: bytes, *, manager, force, subresource) -> dict:
        import yaml

        if not manager:
            raise errors.ApiError(400, "BadRequest", "PATCH /apply requires fieldManager: fieldManager: Required "
                                  "value: is required for apply patch")
        try:
            config = yaml.safe_load(body or b"{}") or {}
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}")
        if config.get("metadata", {}).get("name", name) != name:
            raise errors.bad_request(f"the name of the object ({config['metadata']['name']}) does not match the "
                                     f"name on the URL ({name})")
        current = from_storage(res, self.store.find(res, ns, name))
        merged = ssa.apply(current, config, manager=manager, force=force)
        merged["metadata"]["name"] = name
        if current is None:
            return self.create(res, ns, merged, manager=manager, track=False)
        return self.replace(res, ns, name, merged, manager=manager, subresource=subresource, track=False)

    def delete(self, res: Resource, ns: str, name: str, options: dict) -> dict:
        with self.store.lock:
            pre = options.get("preconditions") or {}
            if res.key == "/namespaces":  # the namespace controller empties it, then it goes
                current = self.store.get(res, "", name)
                if not current["metadata"].get("deletionTimestamp"):
                    current["metadata"]["deletionTimestamp"] = now_iso()
                    current["status"] = {"phase": "Terminating"}
                    return self.store.update(res, current, check_rv=False, raw=True)
                raise errors.namespace_terminating(name)
            if options.get("propagationPolicy") == "Orphan" and not self.store.is_dry:
                self._orphan(self.store.get(res, ns, name)["metadata"]["uid"])
            if res.key == "/pods":
                return termination.delete_pod(self, res, ns, name, options, uid=pre.get("uid", ""),
                                              rv=pre.get("resourceVersion", ""))
            gone = self.store.delete(res, ns, name, uid=pre.get("uid", ""), rv=pre.get("resourceVersion", ""))
            if res.plural == "customresourcedefinitions" and not self.store.is_dry:
                self.registry.unregister_crd(gone)
            if gone["metadata"].get("deletionTimestamp"):
                return gone
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": res.group, "kind": res.plural, "uid": gone["metadata"]["uid"]}}

    def delete_collection(self, res: Resource, ns: str | None, query: dict, options: dict) -> dict:
        with self.store.lock:
            listed = self.list(res, ns, query)
            for item in listed["items"]:
                self.delete(res, item["metadata"].get("namespace", ""), item["metadata"]["name"], options)
            return listed

    def _orphan(self, owner_uid: str) -> None:
        for (key, ns, name), obj in self.store.all_items():
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == owner_uid for r in refs):
                res = next(r for gv in self.registry.group_versions().values() for r in gv if r.key == key)
                obj = self.store.get(res, ns, name)
                obj["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
                self.store.update(res, obj, check_rv=False)


POD_UPDATABLE = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                 "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                 "(allow it to be set to 1 if it was previously negative)")


def _comparable_pod_spec(spec: dict) -> dict:
    spec = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations", "schedulingGates",
                                                       "terminationGracePeriodSeconds", "nodeName")}
    for field in ("containers", "initContainers"):
        spec[field] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(field, [])]
    return spec


def _paginate(items: list[dict], query: dict, meta: dict) -> list[dict]:
    """``limit``/``continue``: the token names the last item served (items come sorted by namespace/name)."""
    position = lambda o: f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"  # noqa: E731
    if query.get("continue"):
        try:
            token = json.loads(base64.urlsafe_b64decode(query["continue"]))
        except ValueError:
            raise errors.ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)")
        meta["resourceVersion"] = token["rv"]
        items = [o for o in items if position(o) > token["start"]]
    limit = int(query.get("limit") or 0)
    if limit and len(items) > limit:
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
        token = {"rv": meta["resourceVersion"], "start": position(items[-1])}
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
    return items


def _validate_pod_update(old: dict, new: dict) -> None:
    if _comparable_pod_spec(old.get("spec", {})) != _comparable_pod_spec(new.get("spec", {})):
        why = f"Forbidden: pod updates may not change fields other than {POD_UPDATABLE}"
        raise errors.invalid("Pod", old["metadata"]["name"], [("spec", why)])
    added = [g["name"] for g in new.get("spec", {}).get("schedulingGates") or []
             if g not in (old.get("spec", {}).get("schedulingGates") or [])]
    if added:
        why = f"Forbidden: only deletion is allowed, but found new scheduling gate '{added[0]}'"
        raise errors.invalid("Pod", old["metadata"]["name"], [("spec.schedulingGates", why)])
