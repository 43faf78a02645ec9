"""`make bench`: performance figures against a real PostgreSQL, in a database of their own.

Uses the PostgreSQL answering on DATABASE_URL's host (or starts a throwaway one), but
always the database ``bluedock_bench`` (BENCH_DATABASE overrides), created when missing
and flushed by the benchmark, so it never touches development or test data.
Extra arguments go to the benchmark (make bench ARGS="-n 1000").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devservices import ROOT, Started, ensure_postgres, log  # noqa: E402


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"creating database {name}")
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def main(args: list[str]) -> int:
    started = Started()
    try:
        env = dict(os.environ)
        base = urlparse(env.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bluedock"))
        if base.scheme not in {"postgres", "postgresql"}:  # an SQLite DATABASE_URL says nothing about PostgreSQL
            base = urlparse("postgresql://postgres@127.0.0.1:5432/bluedock")
        bench_url = urlunparse(base._replace(path="/" + env.get("BENCH_DATABASE", "bluedock_bench")))
        env["DATABASE_URL"] = ensure_postgres(bench_url, started)
        ensure_database(env["DATABASE_URL"])
        env.setdefault("SECRET_KEY", "bench-only-secret-key")
        env["DEBUG"] = "false"  # production-like: DEBUG adds per-query bookkeeping to every request
        code = 0
        for module in ("benchmarks.tenant_list", "benchmarks.catalog_sync"):
            log(f"$ python -m {module} " + " ".join(args))
            result = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, check=False)
            code = code or result.returncode  # run every benchmark; report the first failure
        return code
    finally:
        started.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
