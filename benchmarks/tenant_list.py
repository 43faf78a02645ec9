"""Tenant list latency on a 10,000-tenant tree, against a bare Django JSON view.

Run by ``make bench`` (scripts/bench.py), which points DATABASE_URL at a dedicated
PostgreSQL database. Everything happens in this process: migrate, bulk-build the
tree, then time requests through django.test.Client — the full middleware, session,
DRF and serializer stack, without a socket — so the ratio to the baseline is the cost
of our code, not of the network.

Baseline: ``/healthz`` (bluedock_portal.urls.healthz), a bare JsonResponse that touches
no database, behind the same middleware.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")

SHAPE = (1, 9, 10, 10, 10)  # 1 + 9 + 90 + 900 + 9000 = 10,000 tenants, depth 5
PASSWORD = "bench-pass-123"


def setup_database():
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Every run starts from the same empty database, so figures compare across runs.
    call_command("flush", verbosity=0, interactive=False)


def build():
    from django.contrib.auth import get_user_model

    from benchmarks.treebuild import build_tree, check_sample
    from tenants.models import Membership, Role, Tenant

    started = time.perf_counter()
    tree = build_tree(SHAPE, slug="bench")
    elapsed = time.perf_counter() - started
    problems = check_sample(tree)
    if problems or Tenant.objects.count() != tree.count:
        sys.exit("The bulk-built tree is inconsistent:\n  " + "\n  ".join(problems))
    users = get_user_model().objects
    users.create_user("bench-operator", password=PASSWORD, is_staff=True, is_superuser=True)
    admin = users.create_user("bench-admin", password=PASSWORD)
    near_root = tree.levels[1][0]
    Membership.objects.create(tenant=near_root, user=admin, role=Role.TENANT_ADMIN, inherited=True)
    print(f"Built {tree.count:,} tenants, depth {len(SHAPE)}, in {elapsed:.1f}s "
          f"(sample of {3 * len(SHAPE)} nodes checked against treebeard).")
    print(f"bench-admin is tenant-admin (inherited) of {near_root.full_slug}: "
          f"{Tenant.objects.filter(path__startswith=near_root.path).count():,} tenants visible.")
    return tree


def client_for(username: str):
    from django.test import Client

    client = Client()
    if not client.login(username=username, password=PASSWORD):
        sys.exit(f"could not log in as {username}")
    return client


def timed(client, url: str, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        response = client.get(url)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        assert response.status_code == 200, url
    return samples


def p(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def query_count(client, url: str) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    body = response.json()
    rows = len(body["results"]) if isinstance(body, dict) and "results" in body else (
        len(body) if isinstance(body, list) else len(body.get("children", [])))
    return len(ctx.captured_queries), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=500, help="timed requests per endpoint (≥ 300)")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    n = max(args.requests, 300)

    django.setup()
    from django.conf import settings
    from django.db import connection

    print(f"Database: PostgreSQL {connection.cursor().connection.info.server_version // 10000}, "
          f"'{settings.DATABASES['default']['NAME']}'; DEBUG={settings.DEBUG}")
    setup_database()
    tree = build()
    listed_parent = tree.levels[3][0]  # depth 4 under bench-admin's tenant: 10 children
    leaf = tree.levels[-1][0]
    team = tree.levels[1][0]
    # A web worker does not hold 10,000 model instances; left alive they would make every
    # full garbage collection slower and show up in the p99 as our cost.
    del tree
    gc.collect()
    admin, operator = client_for("bench-admin"), client_for("bench-operator")

    list_url = f"/api/v1/tenants/?parent={listed_parent.pk}"
    baseline = timed(admin, "/healthz", n, args.warmup)
    listing = timed(admin, list_url, n, args.warmup)
    print()
    print(f"Latency, {n} requests each after {args.warmup} warm-up, session of bench-admin (ms):")
    print(f"  {'endpoint':<48} {'p50':>8} {'p99':>8}")
    print(f"  {'GET /healthz (bare JsonResponse, no DB)':<48} {p(baseline, 50):>8.2f} {p(baseline, 99):>8.2f}")
    print(f"  {'GET ' + list_url + f' ({listed_parent.numchild} rows)':<48} "
          f"{p(listing, 50):>8.2f} {p(listing, 99):>8.2f}")
    print(f"  {'ratio list / baseline':<48} {p(listing, 50) / p(baseline, 50):>7.1f}x "
          f"{p(listing, 99) / p(baseline, 99):>7.1f}x")

    endpoints = [
        ("list ?parent=", list_url),
        ("children", f"/api/v1/tenants/{listed_parent.pk}/children/"),
        ("ancestors (of a depth-5 leaf)", f"/api/v1/tenants/{leaf.pk}/ancestors/"),
        ("tree?depth=1", f"/api/v1/tenants/{team.pk}/tree/?depth=1"),
        ("baseline /healthz", "/healthz"),
    ]
    print()
    print("Queries per request (rows returned):")
    print(f"  {'endpoint':<32} {'bench-admin':>14} {'bench-operator':>16}")
    for label, url in endpoints:
        a_queries, a_rows = query_count(admin, url)
        o_queries, o_rows = query_count(operator, url)
        rows = "" if url == "/healthz" else f" ({a_rows} / {o_rows} rows)"
        print(f"  {label:<32} {a_queries:>14} {o_queries:>16}{rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
