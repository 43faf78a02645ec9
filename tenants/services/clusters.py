"""Registering clusters, reaching them, and reading their inventory back."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from backends.errors import BackendPermanentError, BackendTransientError
from backends.kubernetes import Credentials, KubernetesBackend
from backends.quantities import canonical_requests
from bluedock_portal import secrets
from bluedock_portal.errors import BackendUnavailable, InvalidInput, PermissionDenied
from tenants.access import access_for
from tenants.models import Cluster, ClusterNode, Namespace, NamespaceUsage

from .audit import audit_record, snapshot

AUDITED_FIELDS = ["name", "api_url", "credentials_ref", "is_active", "description"]


def _credentials_from_input(*, api_url: str, token: str, ca_cert: str, kubeconfig: str,
                            insecure_skip_tls_verify: bool) -> Credentials | None:
    if kubeconfig:
        try:
            return Credentials.from_kubeconfig(kubeconfig)
        except BackendPermanentError as exc:
            raise InvalidInput(str(exc), code="kubeconfig_invalid", field="kubeconfig") from None
    if token:
        return Credentials(api_url=api_url, token=token, ca_cert=ca_cert,
                           insecure_skip_tls_verify=insecure_skip_tls_verify)
    return None


def cluster_create(*, name: str, api_url: str = "", actor, credentials_ref: str = "", description: str = "",
                   token: str = "", ca_cert: str = "", kubeconfig: str = "",
                   insecure_skip_tls_verify: bool = False) -> Cluster:
    """Register a cluster from a kubeconfig, or an API URL + token (+ CA), or a mounted kubeconfig file.

    Credentials are encrypted at rest and never shown again; the audit trail records only
    where they came from.
    """
    if not access_for(actor).is_operator:
        raise PermissionDenied("Only operators may register clusters.")
    if Cluster.objects.filter(name=name).exists():
        raise InvalidInput(f"A cluster named '{name}' already exists.", code="cluster_name_taken", field="name")
    credentials = _credentials_from_input(api_url=api_url, token=token, ca_cert=ca_cert, kubeconfig=kubeconfig,
                                          insecure_skip_tls_verify=insecure_skip_tls_verify)
    if credentials is not None:
        api_url = credentials.api_url
    if not api_url:
        raise InvalidInput("Give a kubeconfig, or an API URL with a token, or a credentials file.",
                           code="cluster_credentials_missing")
    with transaction.atomic():
        cluster = Cluster.objects.create(
            name=name, api_url=api_url, credentials_ref=credentials_ref, description=description,
            credentials_encrypted=secrets.encrypt(json.dumps(credentials.__dict__)) if credentials else "")
        audit_record(actor=actor, action="cluster.create", target=cluster,
                     after={**snapshot(cluster, AUDITED_FIELDS),
                            "auth_from": "kubeconfig" if kubeconfig else "token" if token else
                            "file" if credentials_ref else "none"})
    return cluster


def cluster_set_credentials(*, cluster: Cluster, actor, kubeconfig: str = "", api_url: str = "", token: str = "",
                            ca_cert: str = "", insecure_skip_tls_verify: bool = False) -> Cluster:
    """Replace a cluster's credentials (rotation, or a sandbox that moved); audited without the secret."""
    if not access_for(actor).is_operator:
        raise PermissionDenied("Only operators may change cluster credentials.")
    credentials = _credentials_from_input(api_url=api_url or cluster.api_url, token=token, ca_cert=ca_cert,
                                          kubeconfig=kubeconfig, insecure_skip_tls_verify=insecure_skip_tls_verify)
    if credentials is None:
        raise InvalidInput("Give a kubeconfig, or a token for the cluster's API URL.",
                           code="cluster_credentials_missing")
    with transaction.atomic():
        before = snapshot(cluster, AUDITED_FIELDS)
        cluster.api_url = credentials.api_url
        cluster.credentials_encrypted = secrets.encrypt(json.dumps(credentials.__dict__))
        cluster.save(update_fields=["api_url", "credentials_encrypted"])
        audit_record(actor=actor, action="cluster.credentials", target=cluster, before=before,
                     after={**snapshot(cluster, AUDITED_FIELDS), "auth_from": "kubeconfig" if kubeconfig else "token"})
    return cluster


def cluster_credentials(cluster: Cluster) -> Credentials:
    if cluster.credentials_encrypted:
        return Credentials(**json.loads(secrets.decrypt(cluster.credentials_encrypted)))
    if cluster.credentials_ref:
        try:
            return Credentials.from_kubeconfig(Path(cluster.credentials_ref).read_text())
        except OSError as exc:
            raise BackendUnavailable(f"Cluster '{cluster.name}': cannot read {cluster.credentials_ref}: "
                                     f"{exc.strerror}", code="cluster_credentials_unreadable") from None
    return Credentials(api_url=cluster.api_url)


# One client per cluster and process: API discovery costs a dozen requests, so it is done once
# and refreshed after BACKEND_TTL; new credentials (rotation) make a new client at once.
_backends: dict[int, tuple[str, float, KubernetesBackend]] = {}
BACKEND_TTL = 600.0


def cluster_backend(cluster: Cluster) -> KubernetesBackend:
    key = hashlib.sha256(f"{cluster.api_url}|{cluster.credentials_encrypted}|{cluster.credentials_ref}".encode()) \
        .hexdigest()
    cached = _backends.get(cluster.pk)
    now = time.monotonic()
    if cached is not None and cached[0] == key and now - cached[1] < BACKEND_TTL:
        return cached[2]
    backend = KubernetesBackend(cluster_credentials(cluster))
    _backends[cluster.pk] = (key, now, backend)
    return backend


def cluster_check_health(*, cluster: Cluster) -> Cluster:
    """Ask the cluster for its version: healthy, unreachable (retry later) or refused (fix credentials)."""
    try:
        version = cluster_backend(cluster).version()
        cluster.health, cluster.health_message, cluster.server_version = (
            Cluster.Health.HEALTHY, "", version.git_version)
    except BackendTransientError as exc:
        cluster.health, cluster.health_message = Cluster.Health.UNREACHABLE, str(exc)[:500]
    except BackendPermanentError as exc:
        cluster.health, cluster.health_message = Cluster.Health.REFUSED, str(exc)[:500]
    cluster.checked_at = timezone.now()
    cluster.save(update_fields=["health", "health_message", "server_version", "checked_at"])
    return cluster


def cluster_sync_inventory(*, cluster: Cluster) -> dict:
    """Read nodes and pods back: node capacity and requests, and usage per portal namespace."""
    backend = cluster_backend(cluster)
    nodes = backend.list_nodes()
    pods = [p for p in backend.list_pods() if p.phase not in ("Succeeded", "Failed")]
    requested: dict[str, dict[str, int]] = {}
    usage: dict[str, dict[str, int]] = {}
    for pod in pods:
        target = usage.setdefault(pod.namespace, {})
        for resource, value in {**pod.requests, "pods": 1}.items():
            target[resource] = target.get(resource, 0) + value
        if pod.node_name:
            node = requested.setdefault(pod.node_name, {})
            for resource, value in {**pod.requests, "pods": 1}.items():
                node[resource] = node.get(resource, 0) + value
    with transaction.atomic():
        seen = []
        for node in nodes:
            allocatable = canonical_requests(node.allocatable)
            allocatable["pods"] = int(node.allocatable.get("pods", 0) or 0)
            capacity = canonical_requests(node.capacity)
            capacity["pods"] = int(node.capacity.get("pods", 0) or 0)
            ClusterNode.objects.update_or_create(cluster=cluster, name=node.name, defaults={
                "capacity": capacity, "allocatable": allocatable, "requested": requested.get(node.name, {}),
                "labels": node.labels, "taints": list(node.taints), "ready": node.ready,
                "unschedulable": node.unschedulable})
            seen.append(node.name)
        ClusterNode.objects.filter(cluster=cluster).exclude(name__in=seen).delete()
        for namespace in Namespace.objects.filter(cluster=cluster):
            used = usage.get(namespace.name, {})
            for resource in ("cpu", "memory", "pods", "gpu"):
                NamespaceUsage.objects.update_or_create(namespace=namespace, resource=resource,
                                                        defaults={"used": used.get(resource, 0)})
        Cluster.objects.filter(pk=cluster.pk).update(inventory_synced_at=timezone.now())
    return {"nodes": len(nodes), "pods": len(pods)}
