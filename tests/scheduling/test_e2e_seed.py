"""The seed case end to end: Celery beat drives the cycle every second on its own queue and worker."""

from __future__ import annotations

import time

import pytest

from scheduling.models import Binding, SchedulingDecision
from scheduling.seed_case import T1_PODS, T1_SCALED, T2_PODS
from tests.scheduling.seed import deployment, gated, running, setup_seed, terminating
from tests.servers.celery import celery_processes, wait_until
from tests.servers.sandbox import sandbox_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
GRACE = 3  # the victims' terminationGracePeriodSeconds; the sandbox keeps them Terminating that long
PASS = 1  # SCHEDULING_INTERVAL: beat starts a pass every second


ELASTIC = {"bluedock.io/gang": "batch", "bluedock.io/gang-size": "12", "bluedock.io/gang-min": "8"}


@pytest.mark.parametrize("batch", ["pods", "elastic gang"])
def test_t1_scales_to_8_and_gets_its_4_cpus_back_within_the_victims_grace(operator, tmp_path, batch):
    """T2's 12 cpu are 12 pods (4 are evicted) or one elastic gang of 12 with gang-min 8 (shrunk to 8:
    its 4 newest pods are evicted); either way T1 is back as soon as those 4 pods are gone."""
    with sandbox_server(nodes=4, cpu="4") as sandbox:
        cluster, backend, tenants = setup_seed(sandbox.url, "sandbox-admin-token", operator)
        backend.apply(deployment("web", "t1-apps", T1_PODS, grace=GRACE))
        backend.apply(deployment("batch", "t2-apps", T2_PODS, grace=GRACE,
                                 annotations=ELASTIC if batch != "pods" else None))
        wait_until(lambda: gated(backend, "t1-apps") == T1_PODS and gated(backend, "t2-apps") == T2_PODS, seconds=15)
        env = {"SCHEDULING_INTERVAL": str(PASS)}
        with celery_processes(tmp_path, beat=True, extra_env=env, queues="scheduling"):
            wait_until(lambda: running(backend, "t1-apps") == T1_PODS and running(backend, "t2-apps") == T2_PODS,
                       seconds=60)
            backend.scale("apps/v1", "Deployment", "t1-apps", "web", T1_SCALED)
            scaled = time.monotonic()
            wait_until(lambda: terminating(backend, "t2-apps") == 4, seconds=10, interval=0.05)
            evicted = time.monotonic()
            wait_until(lambda: running(backend, "t1-apps") == T1_SCALED, seconds=30, interval=0.05)
            back = time.monotonic()
        # The reclaim is decided in the first passes after T1 scales (B5); the cluster is full, so T1's
        # pods can only start once the victims are gone: not before their grace, and then at once
        # (the next pass transfers their capacity; 1 s of slack for the sandbox's scheduler and kubelet).
        print(f"\nseed ({batch}): evicted {evicted - scaled:.2f} s after the scale, T1 back {back - evicted:.2f} s "
              f"after the eviction (grace {GRACE} s)")
        assert evicted - scaled <= 2 * PASS + 0.5, evicted - scaled
        assert GRACE - 0.5 <= back - evicted <= GRACE + PASS + 1.5, back - evicted
        assert running(backend, "t2-apps") == 8
        taken = "EVICT" if batch == "pods" else "SHRINK"
        reasons = set(SchedulingDecision.objects.filter(action=taken).values_list("reason", flat=True))
        assert reasons == {"EVICT_RECLAIM_OWNED"}
        closed = Binding.objects.filter(event="close", tenant=tenants["t2"]).values_list("reason", flat=True)
        assert list(closed) == (["EVICTED"] * 4 if batch == "pods" else ["SHRUNK"])
