"""A real Keystone for the test session: Debian's keystone, sqlite, fernet, on a free loopback port.

Recipe: /work/shared/reference/test-servers.md §1. Everything lives in one throwaway
directory; the server is stopped by its PID when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "s3cret"


@dataclass(frozen=True)
class KeystoneServer:
    auth_url: str
    username: str = "admin"
    password: str = PASSWORD
    project_name: str = "admin"
    user_domain: str = "Default"
    project_domain: str = "Default"
    domain_id: str = "default"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(root: Path) -> str:
    return f"""[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///{root}/keystone.db
[identity]
# bcrypt's minimum cost: every token request hashes the password, and tests ask for many.
password_hash_rounds = 4
[token]
provider = fernet
[fernet_tokens]
key_repository = {root}/fernet-keys
[fernet_receipts]
key_repository = {root}/fernet-keys
[credential]
key_repository = {root}/credential-keys
"""


def _manage(conf: Path, *commands: tuple[str, ...]) -> None:
    """Run keystone-manage commands side by side (each start costs seconds of imports)."""
    procs = [(args, subprocess.Popen(["keystone-manage", "--config-file", str(conf), *args], text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)) for args in commands]
    for args, proc in procs:
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode:
            raise RuntimeError(f"keystone-manage {args[0]} failed ({proc.returncode}):\n{stderr[-3000:]}")


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keystone-wsgi-public exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Keystone did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def keystone_server(tmp_path_factory) -> KeystoneServer:
    if shutil.which("keystone-manage") is None or shutil.which("keystone-wsgi-public") is None:
        pytest.fail("Keystone is not installed (keystone-manage missing): run `make test-deps`.", pytrace=False)
    root = tmp_path_factory.mktemp("keystone")
    for keys in ("fernet-keys", "credential-keys"):
        (root / keys).mkdir(mode=0o700)  # Keystone warns about world-readable key repositories
    conf = root / "keystone.conf"
    conf.write_text(_conf(root))
    port = free_port()
    auth_url = f"http://127.0.0.1:{port}/v3"
    user = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
    _manage(conf, ("db_sync",), ("fernet_setup", *user), ("credential_setup", *user))
    # Keystone's request can leave a pooled connection reading while another commits; with sqlite's
    # default rollback journal that commit fails with "database is locked". WAL lets readers and a writer mix.
    with contextlib.closing(sqlite3.connect(root / "keystone.db")) as db:
        db.execute("PRAGMA journal_mode=WAL")
    _manage(conf, ("bootstrap", "--bootstrap-password", PASSWORD, "--bootstrap-public-url", f"{auth_url}/",
                   "--bootstrap-region-id", "RegionOne"))
    log = root / "keystone.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["keystone-wsgi-public", "--host", "127.0.0.1", "--port", str(port)],
                                env={**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(conf)},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(auth_url, proc, log)
        yield KeystoneServer(auth_url=auth_url)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
