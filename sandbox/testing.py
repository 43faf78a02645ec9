"""Start a sandbox in this process: ``with running_sandbox(nodes=4) as sb: sb.url, sb.kubeconfig``.

Used by the test suite (tests/servers/sandbox.py) and by ``manage.py sandbox``.
"""

from __future__ import annotations

import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from .admin import add_node
from .controllers import Controllers
from .handlers import Api
from .rbac import ADMIN, default_cluster_roles
from .server import SandboxServer, serve

DEFAULT_TOKEN = "sandbox-admin-token"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
GPU = "nvidia.com/gpu"


@dataclass
class Sandbox:
    url: str
    kubeconfig: str
    api: Api
    server: SandboxServer
    controllers: Controllers


def write_kubeconfig(path: str | Path, url: str, token: str = DEFAULT_TOKEN, context: str = "sandbox") -> str:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": context,
              "clusters": [{"name": context, "cluster": {"server": url}}],
              "users": [{"name": f"{context}-admin", "user": {"token": token}}],
              "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin",
                                                         "namespace": "default"}}]}
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def bootstrap(api: Api, *, nodes: int, cpu: str = "4", memory: str = "16Gi", gpu: int = 0) -> None:
    for name in SYSTEM_NAMESPACES:
        api.create(api.ns_res, "", {"metadata": {"name": name}}, manager="sandbox")
    roles = api.res("rbac.authorization.k8s.io/v1", "clusterroles")
    for name, rules in default_cluster_roles().items():
        api.create(roles, "", {"metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                               "rules": rules}, manager="sandbox")
    for i in range(1, nodes + 1):
        add_node(api, f"node-{i}", cpu=cpu, memory=memory, extended={GPU: gpu} if gpu else None)


@contextmanager
def running_sandbox(*, nodes: int = 4, cpu: str = "4", memory: str = "16Gi", gpu: int = 0, host: str = "127.0.0.1",
                    port: int = 0, kubeconfig: str | Path | None = None, tick: float = 0.05):
    """A running sandbox on a free loopback port, with controllers ticking every ``tick`` seconds.

    Each node has ``gpu`` GPUs (as the NVIDIA device plugin reports them), none by default."""
    api = Api()
    api.tokens[DEFAULT_TOKEN] = ADMIN
    bootstrap(api, nodes=nodes, cpu=cpu, memory=memory, gpu=gpu)
    server = serve(api, host, port)
    url = f"http://{api.server_address}"
    controllers = Controllers(api, tick=tick)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                     name="sandbox-http").start()
    controllers.start()
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        path = write_kubeconfig(kubeconfig or Path(tmp) / "kubeconfig", url)
        try:
            yield Sandbox(url, path, api, server, controllers)
        finally:
            controllers.stop()
            server.shutdown()
            server.server_close()
