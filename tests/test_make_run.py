"""`make run` for real: scripts/run.py as a subprocess, driven over HTTP like a person would."""

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

from tenants.demo import demo_password

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


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


def _login_and_check(base: str) -> None:
    session = requests.Session()
    form = session.get(f"{base}/login/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    signed_in = session.post(f"{base}/login/", timeout=10, allow_redirects=False, data={
        "username": "alice", "password": demo_password("alice"), "csrfmiddlewaretoken": token, "next": "/"})
    assert signed_in.status_code == 302, signed_in.text[:500]
    me = session.get(f"{base}/api/v1/users/me/", timeout=5).json()
    assert me["username"] == "alice"
    assert [(t["path"], t["role"]) for t in me["tenants"]] == [("acme/team-a", "tenant-admin")]


def test_make_run_serves_demo_logins_and_stops_everything_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}"}
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
