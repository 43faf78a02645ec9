"""The sandbox Kubernetes API for tests: in-process on a free loopback port, real HTTP.

    with sandbox_server(nodes=4) as sb:
        client = sb.client()            # kubernetes.client.ApiClient wired to the sandbox
        sb.admin("POST", "/sandbox/nodes", {"name": "node-9", "cpu": "8"})

The pytest fixture ``sandbox_api`` (tests/conftest.py) yields one per test.
"""

from __future__ import annotations

import json
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

from sandbox.testing import DEFAULT_TOKEN, Sandbox, running_sandbox


@dataclass
class SandboxHandle:
    sandbox: Sandbox

    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def kubeconfig(self) -> str:
        return self.sandbox.kubeconfig

    def client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=self.kubeconfig)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call a /sandbox/ admin endpoint (nodes, faults, simulated CPU, log lines)."""
        return admin_call(self.url, method, path, body)


def admin_call(url: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback sandbox only
        return json.loads(resp.read() or b"{}")


@contextmanager
def sandbox_server(*, nodes: int = 4, cpu: str = "4", memory: str = "16Gi"):
    with running_sandbox(nodes=nodes, cpu=cpu, memory=memory, tick=0.02) as sb:
        sb.controllers.hpa.interval = 0.2  # tests need not wait the HPA's real 15 s sync period
        yield SandboxHandle(sb)


def wait_for(predicate, *, timeout: float = 5.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy; return its value or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            assert value, f"condition not met within {timeout}s (last value: {value!r})"
            return value
        time.sleep(interval)


@contextmanager
def sandbox_for_contract():
    """A sandbox for the Kubernetes contract suite: (url, tokens) with the same users as the real leg."""
    with sandbox_server(nodes=4) as handle:
        tokens = {"admin": DEFAULT_TOKEN, "alice": "alice-token", "charlie": "charlie-token"}
        handle.admin("POST", "/sandbox/tokens", {"token": "alice-token", "user": "alice", "groups": ["tenant-a"]})
        handle.admin("POST", "/sandbox/tokens", {"token": "charlie-token", "user": "charlie",
                                                  "groups": ["tenant-b"]})
        yield handle.url, tokens
