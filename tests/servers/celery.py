"""Real Celery worker and beat processes for end-to-end tests.

They run against the test database (so tests using them need ``transactional_db``:
rows must be committed for another process to see them) and the suite's Redis, with
the run's CELERY_KEY_PREFIX (set by scripts/test.py) so parallel runs sharing one
Redis do not take each other's tasks. Started per test, stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    """What a test may do with the processes it started: read their env, kill one as a crash would."""

    def __init__(self, env: dict, procs: list[tuple[str, subprocess.Popen]]) -> None:
        self.env = env
        self.procs = procs

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group, as an OOM kill or a lost node would."""
        for proc_name, proc in self.procs:
            if proc_name == name and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@contextmanager
def celery_processes(tmp_path, *, beat: bool = False, extra_env: dict | None = None, name: str = "celery",
                     queues: str = "default"):
    """Start a worker (and beat) wired to the test database; yields a CeleryProcesses handle."""
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **(extra_env or {}),
    }
    logs = tmp_path / name
    logs.mkdir(exist_ok=True)
    procs: list[tuple[str, subprocess.Popen]] = []
    worker_name = f"w-{uuid.uuid4().hex[:6]}"
    commands = [("worker", [sys.executable, "-m", "celery", "-A", "bluedock_portal", "worker", "--pool=solo",
                            "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", worker_name,
                            "-Q", queues])]
    if beat:
        commands.append(("beat", [sys.executable, "-m", "celery", "-A", "bluedock_portal", "beat", "--loglevel=INFO",
                                  "--schedule", str(logs / "beat-schedule")]))
    try:
        for name, cmd in commands:
            out = (logs / f"{name}.log").open("w")
            procs.append((name, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True)))
        _wait_ready(logs / "worker.log", procs)
        yield CeleryProcesses(env, procs)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _wait_ready(worker_log: Path, procs, seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if "ready." in worker_log.read_text(errors="replace"):
            return
        for name, proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"celery {name} exited early:\n{worker_log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready in {seconds}s:\n{worker_log.read_text(errors='replace')[-3000:]}")


def wait_until(predicate, *, seconds: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {seconds}s")
