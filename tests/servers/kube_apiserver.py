"""A real kube-apiserver (v1.20.2, built from Debian's source package) with etcd and
kube-controller-manager, on loopback, for the conformance leg of the Kubernetes contract suite.

The binaries come from scripts/build-kube-apiserver.sh (cache: KUBE_CACHE, default
/var/cache/bluedock/kube/bin). Tokens: ``admin-token`` (system:masters) and one per
test user from ``TOKENS``. Everything started here is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

KUBE_BIN = Path(os.environ.get("KUBE_CACHE", "/var/cache/bluedock/kube")) / "bin"
TOKENS = {"admin-token": ("admin", "system:masters"), "alice-token": ("alice", "tenant-a"),
          "charlie-token": ("charlie", "tenant-b")}


@dataclass
class RealCluster:
    url: str
    kubeconfig: Path
    admin_token: str
    version: str
    apiserver_pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig_for(url: str, token: str, path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "real",
        "clusters": [{"name": "real", "cluster": {"server": url, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "real", "context": {"cluster": "real", "user": "u"}}],
    }))
    return path


def _ready(url: str) -> bool:
    request = urllib.request.Request(f"{url}/readyz", headers={"Authorization": "Bearer admin-token"})
    try:
        with urllib.request.urlopen(request, timeout=2, context=ssl._create_unverified_context()) as response:  # noqa: S323
            return response.read().startswith(b"ok")
    except OSError:
        return False


def start_real_cluster(workdir: Path):
    """Start etcd + kube-apiserver + kube-controller-manager; returns (RealCluster, stop)."""
    missing = [b for b in ("kube-apiserver", "kube-controller-manager") if not (KUBE_BIN / b).exists()]
    if missing or not shutil.which("etcd") or not shutil.which("openssl"):
        raise RuntimeError(f"The real Kubernetes leg needs {missing or 'etcd/openssl'}: run "
                           "`bash scripts/build-kube-apiserver.sh` (make test does it when the cache is missing).")
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "genrsa", "-out", str(workdir / "sa.key"), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(workdir / "sa.key"), "-pubout", "-out", str(workdir / "sa.pub")],
                   check=True, capture_output=True)
    (workdir / "tokens.csv").write_text("".join(f'{t},{u},{u}-uid,"{g}"\n' for t, (u, g) in TOKENS.items()))
    etcd_port, peer_port, metrics_port, api_port, kcm_port = (_free_port() for _ in range(5))
    procs: list[subprocess.Popen] = []

    def spawn(name: str, cmd: list[str]) -> None:
        log = (workdir / f"{name}.log").open("w")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def stop() -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)

    try:
        spawn("etcd", ["etcd", "--name", "t", "--data-dir", str(workdir / "etcd"),
                       "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                       "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                       "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                       "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                       "--initial-cluster", f"t=http://127.0.0.1:{peer_port}",
                       "--listen-metrics-urls", f"http://127.0.0.1:{metrics_port}"])
        url = f"https://127.0.0.1:{api_port}"
        spawn("apiserver", [str(KUBE_BIN / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
                            f"--cert-dir={workdir / 'certs'}", f"--token-auth-file={workdir / 'tokens.csv'}",
                            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.0.0.0/24",
                            f"--service-account-key-file={workdir / 'sa.pub'}",
                            f"--service-account-signing-key-file={workdir / 'sa.key'}",
                            "--service-account-issuer=https://kubernetes.default.svc", "--allow-privileged=true"])
        deadline = time.monotonic() + 60
        while not _ready(url):
            if time.monotonic() > deadline or procs[-1].poll() is not None:
                raise RuntimeError("kube-apiserver did not become ready:\n"
                                   + (workdir / "apiserver.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        admin_config = kubeconfig_for(url, "admin-token", workdir / "admin.kubeconfig")
        spawn("controller-manager", [str(KUBE_BIN / "kube-controller-manager"), f"--kubeconfig={admin_config}",
                                     f"--authentication-kubeconfig={admin_config}",
                                     f"--authorization-kubeconfig={admin_config}", "--bind-address=127.0.0.1",
                                     f"--secure-port={kcm_port}", "--port=0", "--leader-elect=false",
                                     f"--service-account-private-key-file={workdir / 'sa.key'}",
                                     f"--root-ca-file={workdir / 'certs' / 'apiserver.crt'}", "--controllers=*"])
        version = subprocess.run([str(KUBE_BIN / "kube-apiserver"), "--version"], capture_output=True,
                                 text=True).stdout.strip()
        return RealCluster(url=url, kubeconfig=admin_config, admin_token="admin-token", version=version,
                           apiserver_pid=procs[1].pid), stop
    except BaseException:
        stop()
        raise
