"""Two legs for one contract: the sandbox Kubernetes API and a real kube-apiserver.

Every test in this directory runs once per leg (the ``leg`` fixture). The report names
the leg in each test id, e.g. ``test_quota_admission[real]``. Features the real leg's
1.20 server does not have (scheduling gates, policy/v1 eviction, autoscaling/v2) are
skipped on that leg only, with the reason printed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from backends.kubernetes import Credentials, KubernetesBackend
from tests.servers.kube_apiserver import start_real_cluster

# Which server each leg really was, for the report at the end of the run (tests/conftest.py).
LEG_SERVERS: dict[str, str] = {}


@dataclass
class Leg:
    name: str
    url: str
    admin: Credentials
    tokens: dict[str, str]  # user → token, for requests as a tenant's user
    minor: int
    server_pid: int | None = None  # the real leg's kube-apiserver, for tests that freeze it

    def backend(self) -> KubernetesBackend:
        return KubernetesBackend(self.admin)

    def as_user(self, user: str) -> KubernetesBackend:
        return KubernetesBackend(Credentials(api_url=self.url, token=self.tokens[user],
                                             insecure_skip_tls_verify=True))

    def require(self, minor: int, feature: str) -> None:
        if self.minor < minor:
            pytest.skip(f"{feature} needs Kubernetes 1.{minor}+; the {self.name} leg serves 1.{self.minor}")


@pytest.fixture(scope="session")
def real_leg(tmp_path_factory):
    cluster, stop = start_real_cluster(tmp_path_factory.mktemp("kube"))
    try:
        creds = Credentials(api_url=cluster.url, token=cluster.admin_token, insecure_skip_tls_verify=True)
        version = KubernetesBackend(creds).version()
        minor = version.minor
        LEG_SERVERS["real"] = f"kube-apiserver {version.git_version} + etcd + kube-controller-manager at {cluster.url}"
        yield Leg("real", cluster.url, creds, {"alice": "alice-token", "charlie": "charlie-token"}, minor,
                  server_pid=cluster.apiserver_pid)
    finally:
        stop()


@pytest.fixture(scope="session")
def sandbox_leg():
    from tests.servers.sandbox import sandbox_for_contract

    with sandbox_for_contract() as (url, tokens):
        creds = Credentials(api_url=url, token=tokens["admin"])
        version = KubernetesBackend(creds).version()
        minor = version.minor
        LEG_SERVERS["sandbox"] = f"sandbox Kubernetes API (reports {version.git_version}) at {url}"
        yield Leg("sandbox", url, creds, tokens, minor)


@pytest.fixture(params=["sandbox", "real"])
def leg(request) -> Leg:
    return request.getfixturevalue(f"{request.param}_leg")


@pytest.fixture
def ns(leg):
    """A fresh namespace per test (names never repeat, so no test waits for a deletion)."""
    name = f"ct-{uuid.uuid4().hex[:8]}"
    backend = leg.backend()
    backend.ensure_namespace(name, labels={"bluedock.io/managed": "true", "contract": "yes"})
    if leg.name == "real":
        wait_for_default_token(backend, name)
    yield name
    leg.backend().delete("v1", "Namespace", name)


def wait_for_default_token(backend, namespace: str, *, timeout: float = 30.0) -> None:
    """A real API server refuses pods in a new namespace (a transient error) until the token
    controller has given its default service account a token; tests that create pods at once
    wait for that first, as a client retrying the transient error would."""
    deadline = time.monotonic() + timeout
    while True:
        account = backend.get("v1", "ServiceAccount", "default", namespace)
        if account and account.get("secrets"):
            return
        assert time.monotonic() < deadline, f"no token for the default service account of {namespace}"
        time.sleep(0.1)
