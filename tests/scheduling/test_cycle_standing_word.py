"""A waiting request's row keeps its binding node's current numbers, though the engine decides
nothing new about it while its reason and binding constraint stay the same (A10)."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import SchedulingDecision, SchedulingRequest
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def test_a_waiting_pod_reads_its_tenants_usage_now_without_a_new_decision(sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("batch", "t2-apps", 12))  # T2 at owned 8 + borrow limit 4
    wait_for(lambda: gated(backend, "t2-apps") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12)
    backend.apply(deployment("big", "t2-apps", 1, cpu="3"))
    big = SchedulingRequest.objects.filter(tenant=tenants["t2"], name__startswith="big-")
    cycle_until(cluster, lambda: big.filter(state="Pending").exists())
    node = f"t{tenants['t2'].pk}"
    (waiting,) = big
    assert waiting.reason == "PENDING_BORROW_LIMIT"
    assert waiting.message == (f"{waiting.key} waits: {node} uses 12000 of owned 8000 + borrow limit 4000 cpu; "
                               f"it needs 3000, 0 available.")
    decided = SchedulingDecision.objects.filter(request=waiting.key)
    assert list(decided.values_list("action", flat=True)) == ["PENDING"]

    # Down to 10: the 3-cpu pod still does not fit under the borrow limit, for the same reason at
    # the same node, so the engine says nothing new; its row reads the new numbers all the same.
    backend.scale("apps/v1", "Deployment", "t2-apps", "batch", 10)
    current = (f"{waiting.key} waits: {node} uses 10000 of owned 8000 + borrow limit 4000 cpu; "
               f"it needs 3000, 2000 available.")
    cycle_until(cluster, lambda: big.get().message == current)
    waiting = big.get()
    assert waiting.state == "Pending" and waiting.reason == "PENDING_BORROW_LIMIT"
    assert waiting.facts["binding"] == {"node": node, "resource": "cpu", "kind": "borrow_limit", "used": 10000,
                                        "owned": 8000, "borrow_limit": 4000, "needed": 3000, "available": 2000}
    assert list(decided.values_list("action", flat=True)) == ["PENDING"]
    why = api(operator).get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()
    # A person reads it in cores (scheduling/units.py); the row keeps the engine's base units.
    assert "uses 10 of owned 8 + borrow limit 4 cpu; it needs 3, 2 available." in why["message"]


def test_a_pass_on_an_unchanged_cluster_with_waiting_pods_writes_no_request_row(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("batch", "t2-apps", 14))  # 8 owned + 4 borrow limit: 2 must wait
    wait_for(lambda: gated(backend, "t2-apps") == 14, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12)
    rows = SchedulingRequest.objects.filter(cluster=cluster)
    cycle_until(cluster, lambda: rows.filter(state="Pending").count() == 2)
    scheduling_cycle(cluster=cluster)  # settles whatever the last enactment changed
    stamps = dict(rows.values_list("key", "updated_at"))
    decisions = SchedulingDecision.objects.count()
    for _ in range(2):
        assert scheduling_cycle(cluster=cluster)["rows"] == 0
    assert dict(rows.values_list("key", "updated_at")) == stamps
    assert SchedulingDecision.objects.count() == decisions
