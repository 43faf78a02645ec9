"""An operator's policy change reaches the scheduling cycle against the sandbox (StrictFIFO, spec A8/T25)."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import EngineSnapshot, SchedulingRequest
from tests.scheduling.seed import deployment, gated, running, setup_seed
from tests.scheduling.test_cycle import cycle_until
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def test_a_strict_fifo_tenant_holds_small_pods_behind_a_big_one_until_the_operator_relaxes_it(
        sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    policy_url = f"/api/v1/tenants/{tenants['t1'].pk}/scheduling-policy/"
    assert api(operator).patch(policy_url, {"queueing": "StrictFIFO"}, format="json").status_code == 200
    backend.apply(deployment("batch", "t2-apps", 8))  # T2 uses exactly its owned 8: nothing idle to borrow
    backend.apply(deployment("base", "t1-apps", 6))
    wait_for(lambda: gated(backend, "t2-apps") == 8 and gated(backend, "t1-apps") == 6, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 8 and running(backend, "t1-apps") == 6)
    config = EngineSnapshot.objects.get(cluster=cluster).config
    assert {n["id"]: n["queueing"] for n in config["nodes"]}[f"t{tenants['t1'].pk}"] == "StrictFIFO"

    # big (3 cpu) would need 1 cpu beyond T1's owned 8 and nobody lends it; small (1 cpu) fits.
    backend.apply(deployment("big", "t1-apps", 1, cpu="3"))
    wait_for(lambda: gated(backend, "t1-apps") == 1, timeout=10)
    backend.apply(deployment("small", "t1-apps", 1))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(reason="PENDING_STRICT_FIFO_BLOCKED").exists())
    small = SchedulingRequest.objects.get(tenant=tenants["t1"], name__startswith="small-")
    assert small.state == "Pending" and "big-" in small.message
    assert gated(backend, "t1-apps") == 2 and running(backend, "t1-apps") == 6  # 2 cpu idle, held by the rule

    assert api(operator).patch(policy_url, {"queueing": "BestEffortFIFO"}, format="json").status_code == 200
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 7)
    small.refresh_from_db()
    assert small.state == "Admitted" and gated(backend, "t1-apps") == 1
    big = SchedulingRequest.objects.get(tenant=tenants["t1"], name__startswith="big-")
    assert big.state == "Pending" and big.reason == "PENDING_NO_CAPACITY"
    scheduling_cycle(cluster=cluster)
    assert EngineSnapshot.objects.get(cluster=cluster).config_version >= 2  # the change was a new config version
