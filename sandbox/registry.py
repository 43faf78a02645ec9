"""The resource kinds the sandbox serves, and discovery documents built from them.

Decision on "any other object applied from a chart": built-in kinds a chart may carry (ingresses,
PDBs, cronjobs, PVCs, cluster RBAC, ...) are registered below and stored as-is, with no controller.
A kind nobody registered answers 404 exactly as a real API server does (kubectl: "no matches for
kind"); creating a CustomResourceDefinition registers its group/version/plural, as in Kubernetes,
so charts that ship CRDs and custom resources apply cleanly.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

CREATE_ONLY = ("bindings", "subjectaccessreviews", "selfsubjectaccessreviews")
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    storage: str = ""  # shared storage key across versions (e.g. HPA v1 and v2); defaults to group/plural
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return self.storage or f"{self.group}/{self.plural}"

    @property
    def qualified(self) -> str:
        """How error messages name the resource: ``pods``, ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


S = ("status",)
_BUILTIN = [
    # group, version, kind, plural, namespaced, shortNames, subresources
    ("", "v1", "Namespace", "namespaces", False, ("ns",), ("status", "finalize")),
    ("", "v1", "Node", "nodes", False, ("no",), S),
    ("", "v1", "Pod", "pods", True, ("po",), ("status", "binding", "eviction", "log")),
    ("", "v1", "Binding", "bindings", True, (), ()),  # create-only: binds the pod named in the body
    ("", "v1", "Service", "services", True, ("svc",), S),
    ("", "v1", "Endpoints", "endpoints", True, ("ep",), ()),
    ("", "v1", "ConfigMap", "configmaps", True, ("cm",), ()),
    ("", "v1", "Secret", "secrets", True, (), ()),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), ()),
    ("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), S),
    ("", "v1", "LimitRange", "limitranges", True, ("limits",), ()),
    ("", "v1", "Event", "events", True, ("ev",), ()),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), S),
    ("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), S),
    ("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), S),
    ("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status", "scale")),
    ("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("status", "scale")),
    ("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("status", "scale")),
    ("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), S),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", True, (), ()),
    ("batch", "v1", "Job", "jobs", True, (), S),
    ("batch", "v1", "CronJob", "cronjobs", True, ("cj",), S),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), S),
    ("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), S),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), S),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",), ()),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), S),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, (), ()),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",), ()),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",), ()),
    ("coordination.k8s.io", "v1", "Lease", "leases", True, (), ()),
    ("events.k8s.io", "v1", "Event", "events", True, ("ev",), ()),
    ("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, (), ()),
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False, (), ()),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, ("crd",), S),
]


class Registry:
    """Thread-safe table of served resources; CRDs add to it at run time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_gv: dict[str, dict[str, Resource]] = {}
        for group, version, kind, plural, namespaced, short, sub in _BUILTIN:
            storage = "autoscaling/horizontalpodautoscalers" if plural == "horizontalpodautoscalers" else ""
            self.add(Resource(group, version, kind, plural, namespaced, short, sub, storage))

    def add(self, res: Resource) -> None:
        with self._lock:
            self._by_gv.setdefault(res.api_version, {})[res.plural] = res

    def remove_group_version(self, api_version: str, plural: str) -> None:
        with self._lock:
            self._by_gv.get(api_version, {}).pop(plural, None)
            if not self._by_gv.get(api_version, True):
                del self._by_gv[api_version]

    def get(self, api_version: str, plural: str) -> Resource | None:
        return self._by_gv.get(api_version, {}).get(plural)

    def by_kind(self, api_version: str, kind: str) -> Resource | None:
        return next((r for r in self._by_gv.get(api_version, {}).values() if r.kind == kind), None)

    def group_versions(self) -> dict[str, list[Resource]]:
        with self._lock:
            return {gv: list(table.values()) for gv, table in self._by_gv.items()}

    def register_crd(self, crd: dict) -> None:
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for ver in spec.get("versions", []):
            if ver.get("served", True):
                subs = tuple(k for k in (ver.get("subresources") or {}) if k in ("status", "scale"))
                self.add(Resource(spec["group"], ver["name"], names.get("kind", ""), names.get("plural", ""),
                                  spec.get("scope", "Namespaced") == "Namespaced", tuple(names.get("shortNames", [])),
                                  subs, storage=f"{spec['group']}/{names.get('plural', '')}"))
            else:  # a version no longer served (an update of the CRD) goes from discovery and the API
                self.remove_group_version(f"{spec['group']}/{ver['name']}", names.get("plural", ""))

    def unregister_crd(self, crd: dict) -> None:
        spec = crd.get("spec", {})
        for ver in spec.get("versions", []):
            self.remove_group_version(f"{spec.get('group')}/{ver.get('name')}", spec.get("names", {}).get("plural", ""))

    # Discovery documents -------------------------------------------------------------------
    def api_versions(self, server_address: str) -> dict:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}

    def api_group_list(self) -> dict:
        groups: dict[str, list[str]] = {}
        for gv in self.group_versions():
            if "/" in gv:
                group, version = gv.split("/", 1)
                groups.setdefault(group, []).append(version)
        out = []
        for group, versions in groups.items():
            versions.sort(key=_version_rank)
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            out.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def api_group(self, group: str) -> dict | None:
        return next((g | {"kind": "APIGroup", "apiVersion": "v1"}
                     for g in self.api_group_list()["groups"] if g["name"] == group), None)

    def resource_list(self, api_version: str) -> dict | None:
        table = self.group_versions().get(api_version)
        if table is None:
            return None
        resources = []
        for res in sorted(table, key=lambda r: r.plural):
            resources.append({"name": res.plural, "singularName": res.kind.lower(), "namespaced": res.namespaced,
                              "kind": res.kind, "verbs": ["create"] if res.plural in CREATE_ONLY else VERBS,
                              "shortNames": list(res.short_names)})
            for sub in res.subresources:
                kind, verbs = {"scale": ("Scale", ["get", "patch", "update"]), "log": ("Pod", ["get"]),
                               "binding": ("Binding", ["create"]), "eviction": ("Eviction", ["create"]),
                               "finalize": ("Namespace", ["update"])}.get(sub, (res.kind, ["get", "patch", "update"]))
                entry = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                         "kind": kind, "verbs": verbs}
                if sub == "scale":
                    entry |= {"group": "autoscaling", "version": "v1"}
                if sub == "eviction":
                    entry |= {"group": "policy", "version": "v1"}
                resources.append(entry)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources}


def _version_rank(version: str) -> tuple:
    """Kubernetes' version priority: GA above beta above alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0))
