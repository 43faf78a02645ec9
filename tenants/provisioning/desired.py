"""The desired Kubernetes objects of one namespace, as a pure function of portal facts.

Everything the portal manages carries ``bluedock.io/managed=true``; reconciliation
prunes only objects with that label, so objects made by tenants are never touched.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from backends.quantities import format_cpu, format_memory

MANAGED_LABEL = "bluedock.io/managed"
TENANT_LABEL = "bluedock.io/tenant"
TENANT_PATH_LABEL = "bluedock.io/tenant-path"
KEYSTONE_LABEL = "bluedock.io/keystone-project"
QUOTA_NAME = "bluedock-quota"
LIMITS_NAME = "bluedock-defaults"
NETWORK_POLICY_NAME = "bluedock-default-deny-ingress"

# Portal roles → the built-in ClusterRoles every conformant cluster has.
ROLE_CLUSTER_ROLES = {"tenant-admin": "admin", "member": "edit", "viewer": "view"}
# Kubernetes' own users and groups (system:authenticated is everyone with a token, system:masters is
# cluster-admin). The portal never binds them: memberships naming one are refused when made, and any
# row that predates that refusal is left out here.
RESERVED_SUBJECT_PREFIX = "system:"
# Which managed kinds reconciliation lists (and may prune) in a namespace.
MANAGED_KINDS = (("v1", "ResourceQuota"), ("v1", "LimitRange"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
                 ("networking.k8s.io/v1", "NetworkPolicy"))


@dataclass(frozen=True)
class Binding:
    role: str
    subject_kind: str  # "User" or "Group"
    subject_name: str


@dataclass(frozen=True)
class NamespaceFacts:
    name: str
    tenant_id: int
    tenant_path: str
    keystone_project_id: str
    quota_hard: dict[str, int]  # canonical: cpu millicores, memory MiB, pods, gpu
    bindings: tuple[Binding, ...]
    default_request: dict[str, int]
    default_limit: dict[str, int]


def label_value(text: str) -> str:
    """A label value (≤63 chars of [A-Za-z0-9._-]); long values keep a readable head and a hash."""
    value = re.sub(r"[^A-Za-z0-9._-]", ".", text).strip(".-_")
    if len(value) <= 63:
        return value
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{value[:52].rstrip('.-_')}-{digest}"


def namespace_labels(facts: NamespaceFacts) -> dict[str, str]:
    labels = {MANAGED_LABEL: "true", TENANT_LABEL: str(facts.tenant_id),
              TENANT_PATH_LABEL: label_value(facts.tenant_path.replace("/", "."))}
    if facts.keystone_project_id:
        labels[KEYSTONE_LABEL] = label_value(facts.keystone_project_id)
    return labels


def _meta(name: str, namespace: str) -> dict:
    return {"name": name, "namespace": namespace, "labels": {MANAGED_LABEL: "true"}}


def quota_object(facts: NamespaceFacts) -> dict | None:
    hard: dict[str, str] = {}
    if "cpu" in facts.quota_hard:
        hard["requests.cpu"] = format_cpu(facts.quota_hard["cpu"])
    if "memory" in facts.quota_hard:
        hard["requests.memory"] = format_memory(facts.quota_hard["memory"])
    if "pods" in facts.quota_hard:
        hard["pods"] = str(facts.quota_hard["pods"])
    if "gpu" in facts.quota_hard:
        hard["requests.nvidia.com/gpu"] = str(facts.quota_hard["gpu"])
    if not hard:
        return None
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(QUOTA_NAME, facts.name),
            "spec": {"hard": hard}}


def limit_range_object(facts: NamespaceFacts) -> dict:
    def quantities(values: dict[str, int]) -> dict[str, str]:
        return {"cpu": format_cpu(values["cpu"]), "memory": format_memory(values["memory"])}

    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta(LIMITS_NAME, facts.name),
            "spec": {"limits": [{"type": "Container", "defaultRequest": quantities(facts.default_request),
                                 "default": quantities(facts.default_limit)}]}}


def role_binding_name(binding: Binding) -> str:
    subject = hashlib.sha256(f"{binding.subject_kind}:{binding.subject_name}".encode()).hexdigest()[:12]
    return f"bluedock.{binding.role}.{subject}"


def role_binding_object(facts: NamespaceFacts, binding: Binding) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": _meta(role_binding_name(binding), facts.name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": ROLE_CLUSTER_ROLES[binding.role]},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": binding.subject_kind,
                          "name": binding.subject_name}]}


def network_policy_object(facts: NamespaceFacts) -> dict:
    # Deny ingress from other namespaces; pods of the same namespace still talk to each other.
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(NETWORK_POLICY_NAME, facts.name),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}}


def desired_objects(facts: NamespaceFacts) -> list[dict]:
    """The managed objects of the namespace (not the Namespace itself), in a stable order."""
    objects = [limit_range_object(facts), network_policy_object(facts)]
    quota = quota_object(facts)
    if quota is not None:
        objects.insert(0, quota)
    bindings = {b for b in facts.bindings if not b.subject_name.startswith(RESERVED_SUBJECT_PREFIX)}
    objects += [role_binding_object(facts, b)
                for b in sorted(bindings, key=lambda b: (b.role, b.subject_kind, b.subject_name))]
    return objects


def digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
