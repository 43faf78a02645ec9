"""The Kubernetes backend: the only module that imports the official ``kubernetes`` client.

Verbs declare desired state (apply, ensure, scale to N, remove a gate), so a retry after
a failure is harmless. Frozen dataclasses and plain dicts cross the boundary; client
objects never leave this module. Errors become BackendTransientError (5xx, timeouts,
429, conflicts on writes) or BackendPermanentError (other 4xx, with the API's message).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from .errors import BackendPermanentError, BackendTransientError
from .quantities import canonical_requests

SYSTEM = "kubernetes"
FIELD_MANAGER = "bluedock"
_TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
LIST_PAGE = 500  # items per page of a listing (limit/continue)
LIST_RESTARTS = 3  # listings started over after their continue token expired, before giving up


@dataclass(frozen=True)
class Credentials:
    """How to reach one cluster. Secrets live here only in memory, never in logs or reprs."""

    api_url: str
    token: str = field(default="", repr=False)
    ca_cert: str = field(default="", repr=False)  # PEM; empty means the system trust store
    client_cert: str = field(default="", repr=False)
    client_key: str = field(default="", repr=False)
    insecure_skip_tls_verify: bool = False

    @classmethod
    def from_kubeconfig(cls, text: str, context: str | None = None) -> Credentials:
        """Read the server and user of one context of a kubeconfig (token or client certificate)."""
        try:
            config = yaml.safe_load(text)
            name = context or config["current-context"]
            ctx = next(c["context"] for c in config["contexts"] if c["name"] == name)
            cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
            user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])
        except (yaml.YAMLError, KeyError, StopIteration, TypeError) as exc:
            raise BackendPermanentError(f"Not a usable kubeconfig: {exc.__class__.__name__} {exc}") from None

        def data(key: str) -> str:
            raw = cluster.get(key) if key.startswith("certificate-authority") else user.get(key)
            return base64.b64decode(raw).decode() if raw else ""

        if not user.get("token") and not user.get("client-certificate-data"):
            raise BackendPermanentError("The kubeconfig user needs a token or embedded client certificate data.")
        return cls(api_url=cluster["server"], token=user.get("token", ""),
                   ca_cert=data("certificate-authority-data"), client_cert=data("client-certificate-data"),
                   client_key=data("client-key-data"),
                   insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")))


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    major: int
    minor: int


@dataclass(frozen=True)
class NodeInfo:
    name: str
    capacity: dict[str, str]
    allocatable: dict[str, str]
    labels: dict[str, str]
    taints: tuple[dict, ...]
    ready: bool
    unschedulable: bool


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    uid: str
    phase: str
    node_name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    scheduling_gates: tuple[str, ...]
    requests: dict[str, int]  # canonical: cpu millicores, memory MiB, gpu count
    priority: int
    grace_seconds: int
    created_at: str
    deleting: bool


@contextlib.contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn client exceptions into the portal's two kinds of backend error."""
    try:
        yield
    except ApiException as exc:
        message = _api_message(exc)
        if exc.status == 0 and (exc.reason or "").startswith("SSLError"):
            # The client's word for a certificate it could not verify: no retry makes it verify, and
            # "cannot reach" would send the operator looking at the network instead of the CA.
            detail = (exc.reason or "").partition("\n")[2][:300]
            raise BackendPermanentError(f"{what}: the API server's certificate was not accepted (check the cluster's "
                                        f"CA certificate and address): {detail}", system=SYSTEM, status=0,
                                        reason="tls") from None
        if exc.status in _TRANSIENT_STATUSES or exc.status is None or exc.status == 0:
            raise BackendTransientError(f"{what}: {exc.status} {message}", system=SYSTEM, status=exc.status) from None
        raise BackendPermanentError(f"{what}: {message}", system=SYSTEM, status=exc.status,
                                    reason=exc.reason or "") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise BackendTransientError(f"{what}: cannot reach the API server ({exc.__class__.__name__})",
                                    system=SYSTEM) from None


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _api_message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return exc.reason or str(exc)


class KubernetesBackend:
    """One cluster, through the official client. Cheap to create; discovery is cached per instance."""

    def __init__(self, credentials: Credentials, *, timeout: float = 15.0) -> None:
        self.timeout = timeout
        configuration = k8s.Configuration()
        configuration.host = credentials.api_url.rstrip("/")
        if credentials.token:
            configuration.api_key = {"authorization": f"Bearer {credentials.token}"}
        self._files: list[str] = []
        # The PEM files the client reads go with the backend (a key must not outlive its use on disk).
        weakref.finalize(self, _remove_files, self._files)
        if credentials.ca_cert:
            configuration.ssl_ca_cert = self._file(credentials.ca_cert)
        if credentials.client_cert:
            configuration.cert_file = self._file(credentials.client_cert)
            configuration.key_file = self._file(credentials.client_key)
        configuration.verify_ssl = not credentials.insecure_skip_tls_verify
        configuration.retries = False
        self.api = k8s.ApiClient(configuration)
        self.core = k8s.CoreV1Api(self.api)
        self._dynamic: DynamicClient | None = None

    def _file(self, content: str) -> str:
        handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115 - kept for the client
        handle.write(content)
        handle.close()
        self._files.append(handle.name)
        return handle.name

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            with translated_errors("discovery"):
                self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def _resource(self, api_version: str, kind: str):
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise BackendPermanentError(f"The cluster does not serve {kind} in {api_version}.", status=404) from None

    # --- reads -------------------------------------------------------------------------
    def version(self) -> ServerVersion:
        with translated_errors("version"):
            info = k8s.VersionApi(self.api).get_code(_request_timeout=self.timeout)
        minor = "".join(ch for ch in info.minor if ch.isdigit()) or "0"
        return ServerVersion(git_version=info.git_version, major=int(info.major or 0), minor=int(minor))

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether the cluster serves ``kind`` as a namespaced resource (discovery: custom resources included).

        BackendPermanentError (404) when the cluster does not serve the kind at all."""
        return bool(self._resource(api_version, kind).namespaced)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        resource = self._resource(api_version, kind)
        try:
            with translated_errors(f"get {kind} {name}"):
                return resource.get(name=name, namespace=namespace, _request_timeout=self.timeout).to_dict()
        except BackendPermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict]:
        resource = self._resource(api_version, kind)
        with translated_errors(f"list {kind}"):
            result = resource.get(namespace=namespace, label_selector=label_selector,
                                  _request_timeout=self.timeout)
        return [item.to_dict() for item in result.items]

    def list_nodes(self) -> list[NodeInfo]:
        with translated_errors("list nodes"):
            nodes = self.core.list_node(_request_timeout=self.timeout).items
        return [NodeInfo(
            name=n.metadata.name, capacity=dict(n.status.capacity or {}), allocatable=dict(n.status.allocatable or {}),
            labels=dict(n.metadata.labels or {}),
            taints=tuple({"key": t.key, "value": t.value, "effect": t.effect} for t in (n.spec.taints or [])),
            ready=any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or [])),
            unschedulable=bool(n.spec.unschedulable)) for n in nodes]

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  page_size: int = LIST_PAGE) -> list[PodInfo]:
        """Pods as PodInfo, read from the raw JSON: the typed client's model validation costs about
        half a millisecond per pod, which is most of a scheduling pass over thousands of pods.

        In pages of ``page_size`` (limit/continue): one response of every pod of a large cluster
        outlasts the request timeout and holds the API server's memory. The listing is whole or
        nothing: a continue token that expired (410) starts it over, since a partial listing would
        read as pods gone (and their holds ended) to the scheduling cycle."""
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        query = [("labelSelector", label_selector)] if label_selector else []
        for _ in range(LIST_RESTARTS):
            pods, token = [], None
            while True:
                page = [*query, ("limit", str(page_size)), *([("continue", token)] if token else [])]
                try:
                    data = self.request("GET", path, query=page, what="list pods")
                except BackendPermanentError as exc:
                    if exc.status == 410 and token:
                        break  # the snapshot the pages came from is gone: start over
                    raise
                pods += [_pod_info(p) for p in data.get("items") or []]
                token = (data.get("metadata") or {}).get("continue")
                if not token:
                    return pods
        raise BackendTransientError(f"list pods: the listing expired {LIST_RESTARTS} times before it was whole",
                                    system=SYSTEM, status=410)

    def pod_logs(self, namespace: str, name: str, container: str | None = None, tail_lines: int | None = None) -> str:
        with translated_errors(f"logs of {namespace}/{name}"):
            return self.core.read_namespaced_pod_log(name, namespace, container=container, tail_lines=tail_lines,
                                                     _request_timeout=self.timeout)

    # --- writes (desired state) ----------------------------------------------------------
    def apply(self, manifest: dict) -> dict:
        """Server-side apply as field manager ``bluedock``; conflicts are forced because the
        portal owns what it applies (drift made by hand is repaired, not negotiated)."""
        kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
        meta = manifest.get("metadata") or {}
        if not kind or not api_version or not meta.get("name"):
            raise BackendPermanentError("A manifest needs apiVersion, kind and metadata.name.")
        resource = self._resource(api_version, kind)
        with translated_errors(f"apply {kind} {meta.get('name')}"):
            return resource.server_side_apply(body=manifest, name=meta["name"], namespace=meta.get("namespace"),
                                              field_manager=FIELD_MANAGER, force_conflicts=True,
                                              _request_timeout=self.timeout).to_dict()

    def ensure_namespace(self, name: str, *, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
        return self.apply({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": name, "labels": labels, "annotations": annotations or {}}})

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               grace_seconds: int | None = None) -> bool:
        """Delete one object; False if it was already gone."""
        resource = self._resource(api_version, kind)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        try:
            with translated_errors(f"delete {kind} {name}"):
                resource.delete(name=name, namespace=namespace, body=body, _request_timeout=self.timeout)
        except BackendPermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def remove_scheduling_gate(self, namespace: str, name: str, gate: str,
                               gates: tuple[str, ...] | None = None, uid: str | None = None) -> bool:
        """Drop one scheduling gate (JSON patch with a test, so a concurrent edit is not clobbered).

        ``gates``: the pod's gates as the caller last listed them, which saves a read; if they
        changed since, the test fails (422) and the gates are read afresh.  ``uid``: the pod the
        caller decided about; a pod deleted and made again under its name since (a StatefulSet's)
        is another pod, asking afresh, and keeps its gate (False)."""
        listed = gates is not None
        if gates is None:
            current, gates = self._gates(namespace, name)
            if uid is not None and current != uid:
                return False
        if gate not in gates:
            return False
        remaining = [{"name": g} for g in gates if g != gate]
        patch = [{"op": "test", "path": "/metadata/uid", "value": uid}] if uid is not None else []
        patch += [{"op": "test", "path": "/spec/schedulingGates", "value": [{"name": g} for g in gates]},
                  {"op": "replace", "path": "/spec/schedulingGates", "value": remaining}]
        try:
            self.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}", body=patch,
                         content_type="application/json-patch+json", what=f"ungate pod {namespace}/{name}")
        except BackendPermanentError as exc:
            if exc.status == 422 and listed:  # the listing was stale: read the pod and try once more
                return self.remove_scheduling_gate(namespace, name, gate, uid=uid)
            if exc.status == 404 and listed:
                return False
            raise
        return True

    def _gates(self, namespace: str, name: str) -> tuple[str, tuple[str, ...]]:
        """The pod's uid and scheduling gates."""
        with translated_errors(f"read pod {namespace}/{name}"):
            pod = self.core.read_namespaced_pod(name, namespace, _request_timeout=self.timeout)
        return pod.metadata.uid or "", tuple(g.name for g in (pod.spec.scheduling_gates or []))

    def evict(self, namespace: str, name: str, grace_seconds: int) -> bool:
        """Evict through the Eviction subresource (policy/v1, or v1beta1 on older servers)."""
        version = "v1" if "v1" in self.served_versions("policy") else "v1beta1"
        body = {"apiVersion": f"policy/{version}", "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace},
                "deleteOptions": {"gracePeriodSeconds": grace_seconds}}
        try:
            self.request("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body=body,
                         what=f"evict pod {namespace}/{name}")
        except BackendPermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def scale(self, api_version: str, kind: str, namespace: str, name: str, replicas: int) -> None:
        resource = self._resource(api_version, kind)
        with translated_errors(f"scale {kind} {namespace}/{name}"):
            resource.patch(name=name, namespace=namespace, body={"spec": {"replicas": replicas}},
                           content_type="application/merge-patch+json", _request_timeout=self.timeout)

    def served_versions(self, group: str) -> set[str]:
        """The versions the cluster serves of an API group (BackendPermanentError 404: none)."""
        data = self.request("GET", f"/apis/{group}", what=f"discover {group}")
        return {v["version"] for v in data.get("versions", [])}

    def request(self, method: str, path: str, *, body=None, query: list[tuple[str, str]] | None = None,
                content_type: str = "application/json", what: str = "") -> dict:
        """A raw API call for what the typed clients lack (JSON patches, subresources); JSON in, dict out."""
        with translated_errors(what or f"{method} {path}"):
            serialized = self.api.param_serialize(
                method=method, resource_path=path, query_params=query or [], body=body,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                auth_settings=["BearerToken"])
            response = self.api.call_api(*serialized, _request_timeout=self.timeout)
            raw = response.read()
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason, body=raw)
        return json.loads(raw) if raw else {}


def _effective_requests(spec: dict) -> dict[str, int]:
    """What the pod asks as the scheduler and the quota count it: its containers and sidecars (init
    containers that keep running, restartPolicy Always) together, at least each other init
    container beside the sidecars started before it, plus the runtime's overhead."""
    def asked(container: dict) -> dict[str, int]:
        return canonical_requests((container.get("resources") or {}).get("requests") or {})

    def add(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
        return {**into, **{k: into.get(k, 0) + v for k, v in more.items()}}

    running: dict[str, int] = {}
    for container in spec.get("containers") or []:
        running = add(running, asked(container))
    peak: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for container in spec.get("initContainers") or []:
        if container.get("restartPolicy") == "Always":
            sidecars = add(sidecars, asked(container))
            running = add(running, asked(container))
        else:
            for key, value in add(sidecars, asked(container)).items():
                peak[key] = max(peak.get(key, 0), value)
    total = {key: max(running.get(key, 0), peak.get(key, 0)) for key in {*running, *peak}}
    return add(total, canonical_requests(spec.get("overhead") or {}))


def _pod_info(pod: dict) -> PodInfo:
    """A pod's JSON (as the API server sends it) → PodInfo."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    requests = _effective_requests(spec)
    grace = spec.get("terminationGracePeriodSeconds")
    return PodInfo(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=meta.get("uid") or "",
        phase=status.get("phase") or "Pending", node_name=spec.get("nodeName") or "",
        labels=dict(meta.get("labels") or {}), annotations=dict(meta.get("annotations") or {}),
        scheduling_gates=tuple(g["name"] for g in spec.get("schedulingGates") or []),
        requests=requests, priority=spec.get("priority") or 0,
        grace_seconds=grace if grace is not None else 30,
        created_at=meta.get("creationTimestamp") or "",
        deleting=meta.get("deletionTimestamp") is not None)
