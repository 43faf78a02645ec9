"""Child processes of the benchmarks (the sandbox cluster, Celery workers): started in their own
session on loopback, logged to files, and stopped by process group, whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_ready(path: Path, needle: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while needle not in (path.read_text(errors="replace") if path.exists() else ""):
        if time.monotonic() > deadline:
            sys.exit(f"{path.name} never said {needle!r}:\n{path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def start_sandbox(procs: list[subprocess.Popen], tmp: Path, env: dict, *options: str) -> str:
    """The sandbox cluster (``manage.py sandbox``) on a free port, added to ``procs`` before it is
    waited for (so the caller's ``stop(procs)`` ends it even if it never comes up); returns the
    path of its kubeconfig."""
    kubeconfig = tmp / "kubeconfig"
    procs.append(start([sys.executable, "manage.py", "sandbox", "--port", str(free_port()), "--kubeconfig",
                        str(kubeconfig), *options], env, tmp / "sandbox.log"))
    wait_ready(tmp / "sandbox.log", "sandbox Kubernetes API on")
    return str(kubeconfig)
