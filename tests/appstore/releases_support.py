"""Shared set-up for the release tests: a sandbox cluster, a tenant namespace in it, published charts."""

from __future__ import annotations

import pytest

from appstore.demo import demo_archives
from appstore.models import Repository
from appstore.releases import render
from appstore.services import uploads
from sandbox.testing import DEFAULT_TOKEN
from tenants.models import Membership, Namespace, Role
from tenants.services import clusters

from .charts import tgz

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80}]
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data: {greeting: "{{ .Values.greeting }}"}
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: nginx
          resources:
            requests: {cpu: {{ .Values.cpu | quote }}, memory: 64Mi}
"""
SCHEMA = '{"type": "object", "required": ["replicas"], "properties": {"replicas": {"type": "integer", "minimum": 0}}}'
KINDS = [("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap")]


def shop_chart(version: str) -> bytes:
    """shop 1.0.0: Deployment + Service; 2.0.0: Deployment + ConfigMap (the Service is gone)."""
    files = {
        "Chart.yaml": f"apiVersion: v2\nname: shop\nversion: {version}\nappVersion: '1'\ntype: application\n".encode(),
        "values.yaml": b"replicas: 1\ncpu: 100m\ngreeting: hello\n",
        "values.schema.json": SCHEMA.encode(),
        "templates/deployment.yaml": DEPLOYMENT.encode(),
        ("templates/service.yaml" if version.startswith("1.") else "templates/configmap.yaml"):
            (SERVICE if version.startswith("1.") else CONFIGMAP).encode(),
    }
    return tgz(files, top="shop")


def publish(data: bytes, *, actor):
    repository, _ = Repository.objects.get_or_create(
        name="Release test charts", tenant=None,
        defaults={"kind": Repository.Kind.INTERNAL, "scope": Repository.Scope.GLOBAL, "sync_interval": 0})
    info, checked = uploads.chart_validate(data=data)
    return uploads.chart_store(repository=repository, tenant=None, data=data, info=info, checked=checked,
                               actor=actor, publish=True)


def demo_chart(name: str, version: str) -> bytes:
    return next(data for n, v, data in demo_archives() if (n, v) == (name, version))


@pytest.fixture
def sandbox_cluster(sandbox_api, operator):
    return clusters.cluster_create(name="sandbox-releases", api_url=sandbox_api.url, actor=operator,
                                   token=DEFAULT_TOKEN, insecure_skip_tls_verify=True)


@pytest.fixture
def team_ns(tree, sandbox_cluster):
    """Namespace team-a of tenant a, present in the sandbox."""
    ns = Namespace.objects.create(tenant=tree["a"], cluster=sandbox_cluster, name="team-a",
                                  state=Namespace.State.ACTIVE)
    clusters.cluster_backend(sandbox_cluster).ensure_namespace("team-a", labels={"bluedock.io/managed": "true"})
    return ns


@pytest.fixture
def vera(make_user, tree):
    """vera: viewer of tenant a (reads its releases, changes nothing)."""
    user = make_user("vera")
    Membership.objects.create(tenant=tree["a"], user=user, role=Role.VIEWER, inherited=True)
    return user


@pytest.fixture
def shop(operator):
    return {v: publish(shop_chart(v), actor=operator) for v in ("1.0.0", "2.0.0")}


def objects_of(backend, release, namespace="team-a") -> set[tuple[str, str]]:
    """(kind, name) of the chart-level objects labelled with the release."""
    selector = f"{render.RELEASE_LABEL}={release.pk}"
    return {(kind, o["metadata"]["name"]) for api_version, kind in KINDS
            for o in backend.list(api_version, kind, namespace=namespace, label_selector=selector)}
