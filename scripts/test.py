"""`make test`: every check the project promises, against real PostgreSQL and Redis.

Runs ruff, the migrations check, import-linter, OpenAPI validation and the pytest
suite; starts PostgreSQL/Redis only if none answers, and stops what it started.
Extra arguments go to pytest (make test ARGS="-k quota").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devservices import ROOT, Started, ensure_database, ensure_postgres, ensure_redis, log  # noqa: E402

BIN = Path(sys.executable).parent


def run(*cmd: str, env: dict) -> int:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(pytest_args: list[str]) -> int:
    started = Started()
    (ROOT / "var").mkdir(exist_ok=True)  # a fresh clone has none; the OpenAPI check writes there
    try:
        env = dict(os.environ)
        env["DATABASE_URL"] = ensure_postgres(env.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bluedock"),
                                              started)
        ensure_database(env["DATABASE_URL"])
        env["REDIS_URL"] = ensure_redis(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"), started)
        env.setdefault("SECRET_KEY", "test-only-secret-key")
        env.setdefault("DEBUG", "false")
        env.setdefault("CELERY_KEY_PREFIX", f"test-{os.getpid()}-")
        checks = [
            (str(BIN / "ruff"), "check", "."),
            (str(BIN / "python"), "manage.py", "makemigrations", "--check", "--dry-run"),
            (str(BIN / "lint-imports"),),
            (str(BIN / "python"), "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file",
             str(ROOT / "var" / "openapi.yaml")),
        ]
        for check in checks:
            code = run(*check, env=env)
            if code:
                log(f"FAILED: {' '.join(check)}")
                return code
        return run(str(BIN / "pytest"), *pytest_args, env=env)
    finally:
        started.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
