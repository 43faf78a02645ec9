"""The seed case end to end: Celery beat drives the cycle every second on its own queue and worker."""

from __future__ import annotations

import pytest

from scheduling.models import SchedulingDecision
from tests.scheduling.seed import deployment, gated, running, setup_seed
from tests.servers.celery import celery_processes, wait_until
from tests.servers.sandbox import sandbox_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_t1_scales_to_8_and_gets_its_4_cpus_back_within_the_victims_grace(operator, tmp_path):
    with sandbox_server(nodes=4, cpu="4") as sandbox:
        cluster, backend, tenants = setup_seed(sandbox.url, "sandbox-admin-token", operator)
        backend.apply(deployment("web", "t1-apps", 4))
        backend.apply(deployment("batch", "t2-apps", 12))
        wait_until(lambda: gated(backend, "t1-apps") == 4 and gated(backend, "t2-apps") == 12, seconds=15)
        env = {"SCHEDULING_INTERVAL": "1"}
        with celery_processes(tmp_path, beat=True, extra_env=env, queues="scheduling"):
            wait_until(lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12, seconds=60)
            backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
            # The victims' grace is 5 s (terminationGracePeriodSeconds); the cycle runs every second.
            wait_until(lambda: running(backend, "t1-apps") == 8, seconds=30)
        assert running(backend, "t2-apps") == 8
        reasons = set(SchedulingDecision.objects.filter(action="EVICT").values_list("reason", flat=True))
        assert reasons == {"EVICT_RECLAIM_OWNED"}
