"""`make run` for real: scripts/run.py as a subprocess, driven over HTTP like a person would.

Besides logins and a clean Ctrl-C, it checks the scheduling demo a person would watch: the seed
case (scheduling/demo.py) played by team-one and team-two, with the reclaim brought forward
(DEMO_RECLAIM_AFTER=1) so the test does not wait the default 30 s.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from backends.kubernetes import Credentials, KubernetesBackend
from scheduling.demo import GRACE, TEAM_ONE, TEAM_TWO
from scheduling.seed_case import running
from tenants.demo import demo_password
from tenants.management.commands.load_demo import PLANS

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e
DEMO_SECONDS = 120  # from start-up to the reclaim's end: all pods running, 1 s, the victims' grace (10 s)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_for_health(base: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run.py exited early with {proc.returncode}"
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{base}/healthz did not answer within {seconds:.0f}s")


def _signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    signed_in = session.post(f"{base}/login/", timeout=10, allow_redirects=False, data={
        "username": username, "password": demo_password(username), "csrfmiddlewaretoken": token, "next": "/"})
    assert signed_in.status_code == 302, signed_in.text[:500]
    return session


def _login_and_check(base: str) -> None:
    me = _signed_in(base, "alice").get(f"{base}/api/v1/users/me/", timeout=5).json()
    assert me["username"] == "alice"
    assert [(t["path"], t["role"]) for t in me["tenants"]] == [("acme/team-a", "tenant-admin")]


def _wait_for_demo(log: Path, proc: subprocess.Popen, seconds: float) -> str:
    """The demo's last line, once it has finished the reclaim (or an assertion naming how it ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run.py exited early with {proc.returncode}"
        output = log.read_text(errors="replace")
        done = re.search(r"^demo: done .*$", output, re.MULTILINE)
        if done:
            return done.group(0)
        assert "] demo (pid" not in output, output[-3000:]  # run.py says so when the demo process ends
        time.sleep(0.5)
    raise AssertionError(f"the demo did not finish within {seconds:.0f}s")


def _check_the_seed_case(base: str) -> None:
    """What a person watching sees: team-one got its 4 cpu back by evicting 4 of team-two's borrowed
    pods (the decisions of each of team-one's new pods: EVICT_RECLAIM_OWNED, then its admission)."""
    backend = KubernetesBackend(Credentials.from_kubeconfig((ROOT / "var" / "sandbox.kubeconfig").read_text()))
    assert (running(backend, TEAM_ONE.namespace), running(backend, TEAM_TWO.namespace)) == (8, 8)
    operator = _signed_in(base, "operator")

    def get(path: str) -> dict:
        answer = operator.get(f"{base}/api/v1/{path}", timeout=10)
        assert answer.status_code == 200, (path, answer.text[:500])
        return answer.json()

    tenants = {t["full_slug"]: t["id"] for t in get("tenants/?page_size=500")["results"]}
    shares = {path: get(f"tenants/{tenants[path]}/share/")["clusters"] for path in ("acme", TEAM_ONE.path,
                                                                                  TEAM_TWO.path)}
    # Owned as planned: the demo's plans fit the sandbox, so no decision is under degraded capacity.
    assert [s["owned"] for s in shares["acme"]] == [{r: plan["owned"] for r, plan in PLANS["acme"].items()}]
    assert [(s["used"]["cpu"], s["borrowed"]["cpu"]) for s in shares[TEAM_ONE.path]] == [(8000, 0)]
    assert [(s["used"]["cpu"], s["borrowed"]["cpu"]) for s in shares[TEAM_TWO.path]] == [(8000, 0)]
    requests_of_one = get(f"scheduling/requests/?namespace={TEAM_ONE.namespace}&page_size=500")["results"]
    assert [r["state"] for r in requests_of_one] == ["Admitted"] * 8
    reclaims = []
    for request in requests_of_one:
        history = list(reversed(get(f"scheduling/requests/{request['id']}/why/")["decisions"]))  # oldest first
        if any(d["role"] == "preemptor" for d in history):
            reclaims.append([(d["action"], d["reason"]) for d in history if d["action"] in ("EVICT", "ADMIT")])
    assert reclaims == [[("EVICT", "EVICT_RECLAIM_OWNED"), ("ADMIT", "ADMITTED_BY_TRANSFER")]] * 4, reclaims
    closed = get(f"scheduling/bindings/?tenant={tenants[TEAM_TWO.path]}&event=close&page_size=500")["results"]
    assert [b["reason"] for b in closed] == ["EVICTED"] * 4


def test_make_run_serves_demo_logins_plays_the_seed_case_and_stops_everything_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
           "DEMO_RECLAIM_AFTER": "1"}
    base = f"http://127.0.0.1:{port}"
    tree: set[int] = set()
    with open(tmp_path / "run.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            _wait_for_health(base, proc, 60)
            _login_and_check(base)
            tree = _descendants(proc.pid)
            commands = " | ".join(_cmdline(pid) for pid in tree)
            for part in ("runserver", " worker ", " beat "):
                assert part in commands, f"no {part.strip()} process among {commands}"
            done = _wait_for_demo(tmp_path / "run.log", proc, DEMO_SECONDS)
            assert "4 × EVICT_RECLAIM_OWNED" in done and f"grace is {GRACE} s" in done, done
            _check_the_seed_case(base)
            # A person done watching frees the cluster for the rest of the demo (README).
            stopped = subprocess.run([sys.executable, "manage.py", "demo_reclaim", "--stop", "--timeout", "60"],
                                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
            assert stopped.returncode == 0 and "demo: stopped" in stopped.stdout, stopped.stdout + stopped.stderr
            backend = KubernetesBackend(Credentials.from_kubeconfig((ROOT / "var" / "sandbox.kubeconfig").read_text()))
            assert (running(backend, TEAM_ONE.namespace), running(backend, TEAM_TWO.namespace)) == (0, 0)
        finally:
            # Even when an assertion failed: Ctrl-C is how run.py cleans up, and it is what we test.
            tree |= _descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert "Demo logins" in output
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in tree if _alive(pid)], output[-3000:]
