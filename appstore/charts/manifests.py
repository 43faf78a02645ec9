"""What a rendered chart (``helm template`` output) would create: kinds, cluster scope, images.

Tenants install into their own namespaces; a chart that creates cluster-scoped objects
(CRDs, ClusterRoles, webhooks, …) reaches beyond its tenant, so it needs an operator's
approval. The list is the built-in cluster-scoped kinds of Kubernetes 1.34
(``kubectl api-resources --namespaced=false``) that a chart could plausibly create.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from .errors import ChartError

CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "CSIDriver", "CSINode",
    "CustomResourceDefinition", "FlowSchema", "IngressClass", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment", "VolumeAttributesClass", "DeviceClass", "ClusterTrustBundle",
})
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ManifestSummary:
    kinds: list[str]
    cluster_scoped_kinds: list[str]
    images: list[str]
    has_crds: bool


def summarize(rendered: str, *, crd_files: dict[str, str] | None = None) -> ManifestSummary:
    """Summarise rendered manifests (multi-document YAML) and the chart's ``crds/`` files."""
    kinds: set[str] = set()
    images: set[str] = set()
    for text in [rendered, *(crd_files or {}).values()]:
        try:
            documents = list(yaml.load_all(text, Loader=_Loader))  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as exc:
            raise ChartError("chart_template_failed", f"the rendered chart is not valid YAML: {str(exc)[:300]}"
                             ) from None
        for doc in documents:
            if isinstance(doc, dict) and isinstance(doc.get("kind"), str):
                kinds.add(doc["kind"])
                images.update(_images(doc))
    cluster = sorted(kinds & CLUSTER_SCOPED_KINDS)
    return ManifestSummary(kinds=sorted(kinds), cluster_scoped_kinds=cluster, images=sorted(images),
                           has_crds="CustomResourceDefinition" in kinds or bool(crd_files))


def _images(doc: dict) -> set[str]:
    """Container images of any pod-bearing object (Pod, Deployment, CronJob's jobTemplate, …)."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("containers", "initContainers", "ephemeralContainers"):
                for container in node.get(key) or []:
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        found.add(container["image"])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return found
