"""Provision 1,000 namespaces into the sandbox cluster with 2 Celery worker processes.

Run by ``make bench`` against its dedicated PostgreSQL database and the suite's Redis.
The sandbox runs as its own process (``manage.py sandbox``), the two workers as theirs
(``celery worker --pool=solo``), exactly as in production but on loopback. The clock
starts when the 1,000 reconcile tasks are enqueued and stops when every namespace is
recorded as synced; objects/second counts the namespaces plus the objects applied in them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import django

from benchmarks.processes import start, start_sandbox, stop

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bluedock_portal.settings")


def build(count: int, kubeconfig: str):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from benchmarks.treebuild import build_tree
    from tenants.models import Membership, Namespace, ResourcePlan, Role
    from tenants.services.clusters import cluster_create

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    tree = build_tree((1, 10, 10), slug="prov")  # 111 tenants; namespaces spread over the 100 leaves
    operator = get_user_model().objects.create_user("bench-operator", is_staff=True, is_superuser=True)
    admins = [get_user_model().objects.create_user(f"admin-{i}") for i in range(10)]
    Membership.objects.bulk_create(Membership(tenant=t, user=admins[i], role=Role.TENANT_ADMIN, inherited=True)
                                   for i, t in enumerate(tree.levels[1]))
    # Plans come from build_tree (cpu owned); give the second level a limit, so every quota has a value.
    ResourcePlan.objects.filter(tenant__in=tree.levels[1], resource="cpu").update(limit=10**9)
    cluster = cluster_create(name="bench-sandbox", actor=operator, kubeconfig=Path(kubeconfig).read_text())
    leaves = tree.levels[2]
    Namespace.objects.bulk_create(Namespace(tenant=leaves[i % len(leaves)], cluster=cluster, name=f"ns-{i:05d}")
                                  for i in range(count))
    return cluster


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--namespaces", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    django.setup()
    # A plain SIGTERM would skip the finally below and leave the sandbox and workers running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    from django.conf import settings

    from tenants.models import ManagedObject, Namespace
    from tenants.tasks import namespace_reconcile_task

    tmp = Path(tempfile.mkdtemp(prefix="bench-prov-"))
    env = {**os.environ, "CELERY_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}-", "PYTHONUNBUFFERED": "1"}
    procs = []
    try:
        build(args.namespaces, start_sandbox(procs, tmp, env, "--nodes", "4"))
        for i in range(args.workers):
            procs.append(start([sys.executable, "-m", "celery", "-A", "bluedock_portal", "worker", "--pool=solo",
                                "--without-gossip", "--without-mingle", "-n", f"bench{i}@%h", "--loglevel=INFO"],
                               env, tmp / f"worker{i}.log"))
        time.sleep(3)  # both workers connected before the clock starts
        # The tasks must go to the workers' key prefix, which this process reads from its own settings.
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env["CELERY_KEY_PREFIX"]
        from bluedock_portal.celery import app

        app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        ids = list(Namespace.objects.values_list("pk", flat=True))
        started = time.perf_counter()
        for pk in ids:
            namespace_reconcile_task.delay(pk)
        while (synced := Namespace.objects.filter(sync_state="synced").count()) < len(ids):
            if time.perf_counter() - started > 900:
                sys.exit(f"only {synced} of {len(ids)} namespaces synced after 900 s")
            if any(p.poll() is not None for p in procs):
                sys.exit("a worker or the sandbox died; logs in " + str(tmp))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        objects = ManagedObject.objects.count() + len(ids)
        errors = Namespace.objects.exclude(sync_state="synced").count()
        print(f"\nProvisioning {len(ids):,} namespaces into the sandbox with {args.workers} worker processes:")
        print(f"  {'wall time':<28}{elapsed:>10.1f} s")
        print(f"  {'namespaces per second':<28}{len(ids) / elapsed:>10.1f}")
        print(f"  {'objects applied':<28}{objects:>10,}   (namespaces + quota, limits, policies, bindings)")
        print(f"  {'objects per second':<28}{objects / elapsed:>10.1f}")
        print(f"  {'namespaces in error':<28}{errors:>10}")
        return 0
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
