"""Authentication by bearer token and RBAC authorization (Roles, ClusterRoles and their bindings).

The kubeconfig's token is a cluster admin (group system:masters), as is any unknown token until a
token is registered through POST /sandbox/tokens; from then on unknown tokens get 401. Admins may
impersonate (``kubectl --as``). Messages are the API server's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import errors

MASTERS = "system:masters"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = field(default=())

    @property
    def is_admin(self) -> bool:
        return MASTERS in self.groups


ADMIN = User("admin", (MASTERS, "system:authenticated"))


def authenticate(api, headers) -> User:
    token = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
    if token in api.tokens:
        user = api.tokens[token]
    elif api.strict_tokens:
        raise errors.ApiError(401, "Unauthorized", "Unauthorized")
    else:
        user = ADMIN
    if headers.get("Impersonate-User") and user.is_admin:
        groups = tuple(headers.get_all("Impersonate-Group") or ()) + ("system:authenticated",)
        user = User(headers["Impersonate-User"], groups)
    return user


def verb_of(method: str, name: str, query: dict) -> str:
    if method == "GET":
        return "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method) or (
        "delete" if name else "deletecollection")


def allowed(api, user: User, *, verb: str, group: str, resource: str, sub: str, ns: str, name: str) -> bool:
    if user.is_admin:
        return True
    rbac = lambda plural: api.res("rbac.authorization.k8s.io/v1", plural)  # noqa: E731
    target = f"{resource}/{sub}" if sub else resource
    bindings = [(b, None) for b in api.store.list(rbac("clusterrolebindings"))]
    if ns:
        bindings += [(b, ns) for b in api.store.list(rbac("rolebindings"), ns)]
    for binding, scope in bindings:
        if not any(_subject_matches(s, user) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef") or {}
        role = api.store.find(rbac("roles" if ref.get("kind") == "Role" else "clusterroles"),
                              scope if ref.get("kind") == "Role" else "", ref.get("name", ""))
        for rule in (role or {}).get("rules") or []:
            if (_has(rule.get("verbs"), verb) and _has(rule.get("apiGroups"), group)
                    and _has(rule.get("resources"), target)
                    and (not rule.get("resourceNames") or name in rule["resourceNames"])):
                return True
    return False


def _has(values, wanted: str) -> bool:
    return "*" in (values or []) or wanted in (values or [])


def _subject_matches(subject: dict, user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace')}:{name}"
    return False


def forbidden(user: User, *, verb: str, group: str, resource: str, sub: str, ns: str, name: str):
    what = f'{resource}.{group}' if group else resource
    if name:
        what += f' "{name}"'
    where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
    res = f"{resource}/{sub}" if sub else resource
    message = (f'{what} is forbidden: User "{user.name}" cannot {verb} resource "{res}" in API group "{group}"'
               f"{where}")
    return errors.ApiError(403, "Forbidden", message, {"name": name, "group": group, "kind": resource}
                           if name else {"group": group, "kind": resource})


def access_review(api, user: User, body: dict, *, self_review: bool) -> dict:
    """SubjectAccessReview / SelfSubjectAccessReview: answer from the same rules."""
    spec = body.get("spec") or {}
    who = user if self_review else User(spec.get("user", ""), tuple(spec.get("groups") or ()))
    attrs = spec.get("resourceAttributes") or {}
    ok = allowed(api, who, verb=attrs.get("verb", ""), group=attrs.get("group", ""), resource=attrs.get(
        "resource", ""), sub=attrs.get("subresource", ""), ns=attrs.get("namespace", ""), name=attrs.get("name", ""))
    return {**body, "status": {"allowed": ok, **({"reason": "RBAC: allowed"} if ok else {})}}


_READ = ["get", "list", "watch"]
_CORE_VIEW = ["pods", "pods/log", "pods/status", "services", "configmaps", "endpoints", "events", "limitranges",
              "resourcequotas", "resourcequotas/status", "namespaces", "namespaces/status", "serviceaccounts",
              "persistentvolumeclaims", "replicationcontrollers"]
_CORE_EDIT = ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/eviction", "services", "configmaps",
              "secrets", "serviceaccounts", "persistentvolumeclaims", "replicationcontrollers", "endpoints"]
_WORKLOAD_GROUPS = ["apps", "batch", "autoscaling", "policy", "networking.k8s.io"]


def default_cluster_roles() -> dict[str, list[dict]]:
    """The user-facing default ClusterRoles, condensed from Kubernetes' aggregated ones (view hides secrets)."""
    view = [{"apiGroups": [""], "resources": _CORE_VIEW, "verbs": _READ},
            {"apiGroups": _WORKLOAD_GROUPS, "resources": ["*"], "verbs": _READ}]
    edit = view + [{"apiGroups": [""], "resources": _CORE_EDIT, "verbs": ["*"]},
                   {"apiGroups": _WORKLOAD_GROUPS, "resources": ["*"], "verbs": ["*"]}]
    admin = edit + [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                     "verbs": ["*"]}]
    everything = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    return {"cluster-admin": everything, "admin": admin, "edit": edit, "view": view}
