"""`make run`: the portal on its laptop defaults — web, Celery worker, Celery beat and the
sandbox Kubernetes API together.

DEBUG=true and SQLite under var/ unless the environment says otherwise. Redis is the
one answering on REDIS_URL, or a throwaway one (see devservices). Starts the sandbox
cluster (SANDBOX_PORT, default 6443, or a free port if that is taken), migrates, loads
the demo organisation with the sandbox registered as its cluster, provisions the demo
namespaces into it, then runs everything until Ctrl-C (exit 0) or until one process
dies (the others are stopped, exit 1 naming it). Only processes started here are
stopped, each by its PID (and its own process group, for the worker's pool children).

The scheduling demo is the seed case (scheduling/demo.py): team-one's 4 pods and team-two's 12
fill the sandbox's 16 cpu, and DEMO_RECLAIM_AFTER seconds (default 30) after they all run,
team-one scales to 8 and takes its 4 cpu back. That step is a one-shot process: its end, even a
failed one, leaves the portal running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from devservices import ROOT, VAR, Started, answers, ensure_redis, free_port, log, wait_for  # noqa: E402

from tenants.demo import OPERATOR, PEOPLE, ROLES, demo_password  # noqa: E402

PYTHON = sys.executable
STOP_GRACE_SECONDS = 10.0
# The cluster load_demo's plans are sized to: 16 cpu, 64 GiB, 440 pods, 8 GPUs.
SANDBOX_NODES = ["--nodes", "4", "--node-cpu", "4", "--node-memory", "16Gi", "--node-gpu", "2"]


class Child:
    """One long-running process, in its own process group so a terminal's Ctrl-C reaches only us.

    We then stop the children in a known order instead of racing their own signal handlers.
    """

    def __init__(self, name: str, cmd: list[str], env: dict, *, oneshot: bool = False) -> None:
        self.name = name
        self.oneshot = oneshot  # expected to finish: its exit is reported, not a reason to stop the others
        self.reported = False
        log(f"starting {name}: {' '.join(cmd)}")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {STOP_GRACE_SECONDS:.0f}s; killing it")
        # The group id is the child's PID: this reaches its leftovers (pool processes) and nothing else.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(5)


def manage(*args: str, env: dict) -> None:
    log("$ manage.py " + " ".join(args))
    code = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=False).returncode
    if code:
        raise SystemExit(f"manage.py {' '.join(args)} failed with exit code {code}")


def environment(started: Started) -> dict:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    redis_url = ensure_redis(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"), started)
    # A throwaway Redis has a new port: the broker must follow it unless it was set explicitly elsewhere.
    if env.get("CELERY_BROKER_URL", env.get("REDIS_URL")) == env.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = redis_url
    env["REDIS_URL"] = redis_url
    return env


def demo_reclaim_after(env: dict) -> str:
    value = env.get("DEMO_RECLAIM_AFTER", "30")
    try:
        if float(value) >= 0:
            return value
    except ValueError:
        pass
    raise SystemExit(f"DEMO_RECLAIM_AFTER must be a number of seconds (0 or more), not {value!r}")


def banner(port: str, reclaim_after: str) -> None:
    lines = [f"BlueDock Portal is up: http://127.0.0.1:{port}/  (admin: /admin/, API: /api/docs/)", "Demo logins:"]
    lines += [f"  {name:<9} {demo_password(name):<22} {ROLES[name]}" for name in (OPERATOR, *PEOPLE)]
    lines += [
        "Scheduling demo (the seed case): acme/team-one and acme/team-two own 8 of the sandbox's 16 cpu each,",
        "  team-two may borrow 4. Team-one runs 4 pods, team-two 12 (4 borrowed): the cluster is full.",
        f"  {reclaim_after} s after they all run, team-one scales to 8 and takes its 4 cpu back: the scheduler evicts",
        "  4 of team-two's pods and admits team-one's once they are gone. Watch it as operator: Tenants →",
        "  acme/team-one → Scheduling (the \"demo:\" lines below give the links). README.md: how to replay it.",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def supervise(children: list[Child], stop_requested: list[int]) -> int:
    while not stop_requested:
        for child in children:
            code = child.proc.poll()
            if code is None or stop_requested or child.reported:
                continue
            if child.oneshot:
                child.reported = True
                log(f"{child.name} (pid {child.pid}) finished" + (f" with exit code {code}" if code else ""))
                continue
            log(f"{child.name} (pid {child.pid}) exited with code {code}; stopping the others")
            return 1
        time.sleep(0.3)
    log(f"received {signal.Signals(stop_requested[0]).name}; stopping")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    stop_requested: list[int] = []

    def on_signal(signum, frame):
        stop_requested.append(signum)

    started = Started()
    children: list[Child] = []
    # Before anything starts, so a Ctrl-C during migrate still cleans up what exists.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        env = environment(started)
        reclaim_after = demo_reclaim_after(env)  # before anything starts: a typo should not cost a start-up
        VAR.mkdir(exist_ok=True)
        sandbox_port = int(env.get("SANDBOX_PORT", "6443"))
        if answers("127.0.0.1", sandbox_port):
            sandbox_port = free_port()
        kubeconfig = VAR / "sandbox.kubeconfig"
        children.append(Child("sandbox", [PYTHON, "manage.py", "sandbox", "--port", str(sandbox_port),
                                          "--kubeconfig", str(kubeconfig), *SANDBOX_NODES], env))
        wait_for("127.0.0.1", sandbox_port, "the sandbox Kubernetes API")
        manage("migrate", "--noinput", env=env)
        manage("load_demo", "--sandbox-kubeconfig", str(kubeconfig), env=env)
        # The sandbox starts empty every time: make the demo namespaces exist in it again.
        manage("reconcile_namespaces", env=env)
        # The scheduling demo's gated workloads: the scheduler shares the cluster out once it runs.
        manage("load_demo_workloads", env=env)
        port = env.get("PORT", "8000")
        web = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        if env["DEBUG"].strip().lower() not in {"1", "true", "yes", "on"}:
            # Without DEBUG, runserver serves static files only from STATIC_ROOT and only with --insecure.
            manage("collectstatic", "--noinput", "-v0", env=env)
            web.append("--insecure")
        celery = [PYTHON, "-m", "celery", "-A", "bluedock_portal"]
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for name, cmd in (
            ("web", web),
            ("worker", [*celery, "worker", "-Q", "default", "-c", "1", "--loglevel=INFO"]),
            # The scheduling cycle has a queue and one process of its own, so a slow task never delays it.
            ("scheduler", [*celery, "worker", "-Q", "scheduling", "-c", "1", "--pool=solo", "-n", "scheduler@%h",
                           "--loglevel=WARNING"]),
            ("beat", [*celery, "beat", "--schedule", str(VAR / "celerybeat-schedule"), "--loglevel=INFO"]),
        ):
            children.append(Child(name, cmd, env))
        children.append(Child("demo", [PYTHON, "manage.py", "demo_reclaim", "--after-running", reclaim_after,
                                       "--portal-url", f"http://127.0.0.1:{port}"], env, oneshot=True))
        banner(port, reclaim_after)
        return supervise(children, stop_requested)
    except KeyboardInterrupt:
        log("interrupted; stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            if child.reported:
                continue  # a one-shot that finished and was reaped: its PID may be another process's by now
            log(f"stopping {child.name} (pid {child.pid})")
            child.stop()
        started.stop_all()


if __name__ == "__main__":
    sys.exit(main())
