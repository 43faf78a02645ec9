"""`make bench`: performance figures against a real PostgreSQL, in a database of their own.

Uses the PostgreSQL answering on DATABASE_URL's host (or starts a throwaway one), but
always the database ``bluedock_bench`` (BENCH_DATABASE overrides), created when missing
and flushed by the benchmark, so it never touches development or test data.
Arguments name the benchmarks to run (make bench ARGS="tenant_list"); none runs them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devservices import ROOT, Started, ensure_database, ensure_postgres, log  # noqa: E402

# Each prints its own figures; `make bench ARGS="provisioning"` runs only the named ones.
BENCHMARKS = ["benchmarks.tenant_list", "benchmarks.catalog_sync", "benchmarks.provisioning",
              "benchmarks.scheduling_engine", "benchmarks.scheduling_cycle"]


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
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        failed = 0
        for module in BENCHMARKS:
            if args and module.rsplit(".", 1)[-1] not in args:
                continue
            log(f"$ python -m {module}")
            failed |= subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, check=False).returncode
        return failed
    finally:
        started.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
