"""Catalog sync of a 5,000-version Helm repository, and store-front search latency over it.

Run by ``make bench`` (scripts/bench.py) against a dedicated PostgreSQL database. The
index (500 charts x 10 versions, as `helm repo index` writes it) is served over HTTP
from a thread on loopback, so the timing includes the real fetch, YAML parse and the
bulk writes. Then the API's store-front search is timed through django.test.Client,
beside ``/healthz`` (no database) as the baseline, like benchmarks/tenant_list.py.
"""

from __future__ import annotations

import argparse
import gc
import http.server
import os
import sys
import threading
import time

import django
import yaml

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")

CHARTS, VERSIONS = 500, 10
PASSWORD = "bench-pass-123"
WORDS = ["web", "cache", "queue", "database", "metrics", "logging", "proxy", "batch", "search", "auth"]


def make_index(charts: int = CHARTS, versions: int = VERSIONS) -> bytes:
    entries = {}
    for c in range(charts):
        name = f"chart-{c:04d}"
        word = WORDS[c % len(WORDS)]
        entries[name] = [{
            "apiVersion": "v2", "name": name, "version": f"{v // 4}.{v % 4}.0", "appVersion": f"{v}.0",
            "description": f"A {word} service number {c}", "keywords": [word, f"team-{c % 7}"],
            "urls": [f"{name}-{v // 4}.{v % 4}.0.tgz"], "digest": f"{c:032x}{v:032x}",
            "created": "2026-11-25T00:00:00Z", "maintainers": [{"name": "bench"}],
        } for v in reversed(range(versions))]
    return yaml.safe_dump({"apiVersion": "v1", "generated": "2026-11-25T00:00:00Z", "entries": entries},
                          sort_keys=False).encode()


def serve(body: bytes) -> tuple[http.server.HTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def timed_sync(repository) -> tuple[float, int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from appstore.services.sync import repository_sync

    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = repository_sync(repository=repository)
        elapsed = time.perf_counter() - start
    return elapsed, len(ctx.captured_queries), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=300, help="timed requests per search (≥ 100)")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    n = max(args.requests, 100)

    django.setup()
    from django.contrib.auth import get_user_model

    from appstore.models import App, AppVersion, Category
    from appstore.services.repositories import repository_create
    from benchmarks.tenant_list import client_for, p, setup_database, timed
    from tenants.models import Membership, Role, Tenant

    setup_database()
    body = make_index()
    print(f"\nCatalog sync: index.yaml of {CHARTS} charts x {VERSIONS} versions = {CHARTS * VERSIONS:,} entries, "
          f"{len(body) / 1e6:.1f} MB, served over loopback HTTP")
    server, url = serve(body)
    try:
        users = get_user_model().objects
        operator = users.create_user("bench-operator", password=PASSWORD, is_staff=True, is_superuser=True)
        repository = repository_create(actor=operator, name="bench", kind="helm_http", url=url)
        first = timed_sync(repository)
        second = timed_sync(repository)
    finally:
        server.shutdown()
        server.server_close()
    print(f"  {'run':<34} {'seconds':>8} {'queries':>8} {'created':>8}")
    for label, (elapsed, queries, result) in (("first sync (all new)", first), ("second sync (nothing new)", second)):
        print(f"  {label:<34} {elapsed:>8.2f} {queries:>8} {result['created']:>8}")
    assert AppVersion.objects.count() == CHARTS * VERSIONS and App.objects.count() == CHARTS
    # A web worker does not hold the parsed index; left alive it would slow every full collection (p99).
    del body, first, second
    gc.collect()

    web = Category.objects.create(slug="web", name="Web")
    web.apps.add(*App.objects.filter(keywords__icontains="web"))
    root = Tenant.objects.add_root(instance=Tenant(name="Bench", slug="bench", full_slug="bench"))
    member = users.create_user("bench-member", password=PASSWORD)
    Membership.objects.create(tenant=root, user=member, role=Role.MEMBER, inherited=True)
    client = client_for("bench-member")
    searches = [
        ("GET /healthz (baseline, no DB)", "/healthz"),
        ("GET /api/v1/apps/ (first page)", "/api/v1/apps/"),
        ("GET /api/v1/apps/?q=cache", "/api/v1/apps/?q=cache"),
        ("GET /api/v1/apps/?q=chart-0042", "/api/v1/apps/?q=chart-0042"),
        ("GET /api/v1/apps/?category=web", "/api/v1/apps/?category=web"),
        ("GET /store/?q=metrics (HTML)", "/store/?q=metrics"),
    ]
    print(f"\nStore-front search over {CHARTS} apps / {CHARTS * VERSIONS:,} versions, {n} requests each after "
          f"{args.warmup} warm-up, session of a tenant member (ms):")
    print(f"  {'request':<40} {'p50':>8} {'p99':>8}")
    for label, path in searches:
        samples = timed(client, path, n, args.warmup)
        print(f"  {label:<40} {p(samples, 50):>8.2f} {p(samples, 99):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
