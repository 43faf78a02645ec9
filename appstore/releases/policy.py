"""What a chart may not create in a tenant namespace, whoever installs it.

Pure (standard library only), like ``render`` which calls it. The portal owns some objects
in every tenant namespace (the quota, the LimitRange, the deny-ingress NetworkPolicy, the
``bluedock.*`` RoleBindings of the tenant's members), and a release applied over them would
raise its own quota and then delete it on uninstall. And RBAC objects can grant more than
their requester holds: a RoleBinding to ``cluster-admin``, or a Role allowed to rewrite the
namespace's quota or bindings. Refusing them here, before anything is applied, is what
Kubernetes' own escalation check would do for a requester applying them directly.

Who may create RBAC objects at all (tenant admins) depends on the requester, so that rule
lives in the service; ``rbac_objects`` names the objects it applies to.
"""

from __future__ import annotations

RESERVED_KINDS = frozenset({"ResourceQuota", "LimitRange"})
RESERVED_PREFIXES = ("bluedock-", "bluedock.")
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_KINDS = frozenset({"Role", "RoleBinding"})
# The ClusterRoles a tenant admin's own binding already includes (the user-facing roles of Kubernetes).
BINDABLE_CLUSTER_ROLES = frozenset({"admin", "edit", "view"})
# Resources whose writing would undo the portal's hold on the namespace (quota, defaults, who may do what).
# ``namespaces`` too: a request on namespaces/<X> counts as in namespace X, so a Role in X can let its
# holder relabel or delete X itself, which the admin ClusterRole only reads.
PROTECTED_RESOURCES = frozenset({"resourcequotas", "limitranges", "roles", "rolebindings", "namespaces", "*"})
# Kubernetes' own identities: a binding to system:authenticated or system:unauthenticated opens the
# namespace to every user (or to anyone), and system:serviceaccounts:<ns> to another namespace's pods.
SYSTEM_SUBJECT_PREFIX = "system:"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
# Verbs that exist to step over RBAC's escalation check.
ESCALATING_VERBS = frozenset({"escalate", "bind", "impersonate"})


class PolicyError(Exception):
    """An object the release may not create; ``code`` is machine-readable."""

    def __init__(self, code: str, detail: str, **facts) -> None:
        super().__init__(detail)
        self.code, self.detail, self.facts = code, detail, facts


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def check_reserved(obj: dict) -> None:
    """Refuse the kinds and names the portal keeps for itself in a tenant namespace."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind in RESERVED_KINDS and _group(obj["apiVersion"]) == "":
        raise PolicyError("reserved_kind", f"{kind} '{name}': the portal manages the namespace's {kind}; a release "
                          "may not create one", kind=kind, name=name)
    if name.startswith(RESERVED_PREFIXES):
        raise PolicyError("reserved_name", f"{kind} '{name}': names starting with 'bluedock-' or 'bluedock.' are "
                          "reserved for the portal's own objects", kind=kind, name=name)


def is_rbac(obj: dict) -> bool:
    return obj["kind"] in RBAC_KINDS and _group(obj["apiVersion"]) == RBAC_GROUP


def rbac_objects(objects: list[dict]) -> list[str]:
    """``Kind/name`` of the RBAC objects among ``objects`` (only tenant admins may install them)."""
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects if is_rbac(o)]


def check_rbac(obj: dict, *, namespace: str) -> None:
    """Refuse a Role or RoleBinding that would grant more than a tenant admin holds in the namespace."""
    if not is_rbac(obj):
        return
    kind, name = obj["kind"], obj["metadata"]["name"]
    facts = {"kind": kind, "name": name}
    if kind == "RoleBinding":
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            raise PolicyError("rbac_invalid", f"RoleBinding '{name}' needs a roleRef mapping", **facts)
        if ref.get("kind") == "ClusterRole" and ref.get("name") not in BINDABLE_CLUSTER_ROLES:
            raise PolicyError("rbac_escalation", f"RoleBinding '{name}' binds ClusterRole '{ref.get('name')}'; a "
                              f"release may bind only {', '.join(sorted(BINDABLE_CLUSTER_ROLES))} or a Role",
                              role=str(ref.get("name")), **facts)
        if ref.get("kind") not in ("ClusterRole", "Role"):
            raise PolicyError("rbac_invalid", f"RoleBinding '{name}': roleRef.kind must be Role or ClusterRole",
                              **facts)
        for subject in obj.get("subjects") or []:
            if not isinstance(subject, dict):
                raise PolicyError("rbac_invalid", f"RoleBinding '{name}': every subject must be a mapping", **facts)
            if subject.get("kind") == "ServiceAccount" and subject.get("namespace") not in (None, "", namespace):
                raise PolicyError("rbac_escalation", f"RoleBinding '{name}' grants to a ServiceAccount of namespace "
                                  f"'{subject.get('namespace')}'; a release may bind only its own namespace's",
                                  **facts)
            subject_name = str(subject.get("name") or "")
            own = (subject_name.startswith(f"{SYSTEM_SUBJECT_PREFIX}serviceaccount:{namespace}:")
                   or subject_name == f"{SYSTEM_SUBJECT_PREFIX}serviceaccounts:{namespace}")
            if subject.get("kind") in ("User", "Group") and subject_name.startswith(SYSTEM_SUBJECT_PREFIX) and not own:
                raise PolicyError("rbac_escalation", f"RoleBinding '{name}' grants to {subject.get('kind')} "
                                  f"'{subject_name}', one of Kubernetes' own identities; a release may bind only "
                                  "users, groups and service accounts of its own namespace", **facts)
        return
    for rule in obj.get("rules") or []:
        if not isinstance(rule, dict):
            raise PolicyError("rbac_invalid", f"Role '{name}': every rule must be a mapping", **facts)
        verbs = {str(v) for v in rule.get("verbs") or []}
        resources = {str(r).partition("/")[0] for r in rule.get("resources") or []}
        if verbs & ESCALATING_VERBS:
            raise PolicyError("rbac_escalation", f"Role '{name}' grants {', '.join(sorted(verbs & ESCALATING_VERBS))}"
                              "; a release may not grant escalation", **facts)
        if verbs & WRITE_VERBS and resources & PROTECTED_RESOURCES:
            raise PolicyError("rbac_escalation", f"Role '{name}' grants write on "
                              f"{', '.join(sorted(resources & PROTECTED_RESOURCES))}; a release may not let anyone "
                              "change the namespace's quota, defaults or bindings", **facts)
