"""Find or start PostgreSQL and Redis for `make test` and `make run` (standard library only).

Use what answers on DATABASE_URL / REDIS_URL (by default the local servers on 5432 and
6379). If nothing answers, start a throwaway server under var/ on a free loopback port,
from the system's binaries, installing them with apt when running as root. Whatever
this module starts, it stops again (by PID) when the caller is done.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def log(message: str) -> None:
    print(f"[services] {message}", flush=True)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(host: str, port: int, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(host, port, 0.5):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on {host}:{port} within {seconds:.0f}s")


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"Missing {', '.join(packages)}. Install them (e.g. `sudo apt-get install "
                         f"{' '.join(packages)}`) or point the URL variables at running servers.")
    log(f"installing {', '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)


class Started:
    """Processes this run started, stopped in reverse order."""

    def __init__(self) -> None:
        self.stops: list[tuple[str, callable]] = []

    def add(self, name: str, stop) -> None:
        self.stops.append((name, stop))

    def stop_all(self) -> None:
        for name, stop in reversed(self.stops):
            log(f"stopping {name}")
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - stopping must go on for the others
                log(f"could not stop {name}: {exc}")
        self.stops.clear()


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def ensure_postgres(url: str, started: Started) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5432
    if answers(host, port):
        log(f"PostgreSQL answers on {host}:{port}")
        return url
    if not _pg_bin("initdb"):
        apt_install("postgresql")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    port = free_port()
    data = VAR / "pg" / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        (VAR / "pg").mkdir(parents=True, exist_ok=True)
        shutil.chown(VAR / "pg", "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={VAR / 'pg'} -c fsync=off"
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(VAR / "pg" / "pg.log"), "-w",
                    "start"], check=True, stdout=subprocess.DEVNULL)
    started.add("PostgreSQL", lambda: subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                                                     check=False, stdout=subprocess.DEVNULL))
    log(f"started a throwaway PostgreSQL on 127.0.0.1:{port}")
    return f"postgresql://postgres@127.0.0.1:{port}/{parsed.path.lstrip('/') or 'bluedock'}"


def ensure_database(url: str) -> None:
    """Create the URL's database when the server lacks it (checks and tools connect to it)."""
    import psycopg  # from the venv: callers run with its Python

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"creating database {name}")
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def ensure_redis(url: str, started: Started) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if answers(host, port):
        log(f"Redis answers on {host}:{port}")
        return url
    binary = shutil.which("redis-server")
    if not binary:
        apt_install("redis-server")
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    (VAR / "redis").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(VAR / "redis")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("127.0.0.1", port, "redis-server")
    started.add("Redis", lambda: (proc.terminate(), proc.wait(10)))
    log(f"started a throwaway Redis on 127.0.0.1:{port} (pid {proc.pid})")
    return f"redis://127.0.0.1:{port}/{parsed.path.lstrip('/') or '0'}"


if __name__ == "__main__":
    # Manual use: print the URLs that would be used, starting nothing.
    print(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""), file=sys.stderr)
