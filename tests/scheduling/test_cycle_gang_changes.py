"""A gang whose pods change after it was made a request: it never runs more than the engine
admitted, and a gang made again asking for more waits its turn as a new request.

The seed cluster (tests/scheduling/seed.py): 16 cpu; T1 owns 8, T2 owns 8 and may borrow 4.
"""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, EngineSnapshot, SchedulingRequest
from scheduling.snapshot import GATE, state_from_json
from tenants.models import Membership
from tests.scheduling.seed import cycle_until, gated, running, setup_seed
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def _member(name: str, namespace: str, gang: str, size: int, cpu: str = "1") -> dict:
    resources = {"cpu": cpu, "memory": "64Mi"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"bluedock.io/gang": gang, "bluedock.io/gang-size": str(size)}},
            "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "w", "image": "registry.local/train:1",
                                     "resources": {"requests": resources, "limits": dict(resources)}}]}}


def _admitted(cluster, key: str) -> dict:
    state = state_from_json(EngineSnapshot.objects.get(cluster=cluster).state)
    return dict(state.allocations[key].demand)


def _gang_of_two_running(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    for i in range(2):
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 2))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    return cluster, backend, tenants


def test_pods_a_running_gang_gains_stay_gated_beyond_what_it_was_admitted_for(sandbox_api, operator, api):
    cluster, backend, tenants = _gang_of_two_running(sandbox_api, operator)
    row = SchedulingRequest.objects.get(key="t1-apps/train")
    for i in (2, 3):  # the gang grows to 4 under the same name, as a scaled-up job's would
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 4))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)

    for _ in range(3):
        scheduling_cycle(cluster=cluster)

    # T1 owns 8 cpu and the cluster has room: only the engine's admission stands between the new
    # pods and the nodes, and it was for two pods.
    assert running(backend, "t1-apps") == 2 and gated(backend, "t1-apps") == 2
    assert _admitted(cluster, "t1-apps/train")["cpu"] == 2000
    row.refresh_from_db()
    assert row.state == "Admitted" and row.pk == SchedulingRequest.objects.get(key="t1-apps/train").pk
    assert row.message == ("Running 2 of 4 pods: gang t1-apps/train was admitted for 2, and a gang's size is fixed "
                           "once admitted; its 2 other pods stay gated. Delete the gang's pods and make it again to "
                           "have it admitted at its new size.")
    share = api(operator).get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").json()["clusters"][0]
    assert share["used"]["cpu"] == 2000


def test_a_gangs_held_back_pods_are_told_to_its_tenant_only(sandbox_api, operator, client, api, make_user):
    cluster, backend, tenants = _gang_of_two_running(sandbox_api, operator)
    backend.apply(_member("w-2", "t1-apps", "train", 3))
    wait_for(lambda: gated(backend, "t1-apps") == 1, timeout=10)
    scheduling_cycle(cluster=cluster)
    tia, tom = make_user("tia"), make_user("tom")
    Membership.objects.create(tenant=tenants["t1"], user=tia, role="member")
    Membership.objects.create(tenant=tenants["t2"], user=tom, role="member")
    client.force_login(tia)
    page = client.get(f"/tenants/{tenants['t1'].pk}/scheduling/").content.decode()
    assert "its 1 other pod stays gated." in page
    train = SchedulingRequest.objects.get(key="t1-apps/train")
    assert api(tom).get(f"/api/v1/scheduling/requests/{train.pk}/why/").status_code == 404
    assert "t1-apps/train" not in api(tom).get("/api/v1/scheduling/requests/").content.decode()


def test_a_gang_made_again_asking_for_more_is_a_new_request_admitted_for_what_it_asks_now(sandbox_api, operator):
    cluster, backend, _ = _gang_of_two_running(sandbox_api, operator)
    old = SchedulingRequest.objects.get(key="t1-apps/train")
    for i in range(2):  # deleted and made again before the next pass: four pods of 3 cpu now
        backend.delete("v1", "Pod", f"w-{i}", "t1-apps", grace_seconds=0)
    for i in range(4):
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 4, cpu="3"))
    scheduling_cycle(cluster=cluster)

    # 12 cpu is beyond T1's 8: it borrows 4 of what T2 leaves idle, as the engine decided for it.
    new = SchedulingRequest.objects.get(key="t1-apps/train")
    assert new.pk != old.pk and new.demand["cpu"] == 12000 and new.reason == "ADMITTED_BORROWING"
    assert _admitted(cluster, "t1-apps/train")["cpu"] == 12000
    (ended,) = Binding.objects.filter(event="close", request="t1-apps/train")
    assert ended.reason == "FINISHED" and ended.demand["cpu"] == 2000
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4)


def test_a_gang_made_again_asking_for_more_than_its_tenant_may_have_stays_gated(sandbox_api, operator):
    cluster, backend, _ = _gang_of_two_running(sandbox_api, operator)
    for i in range(2):
        backend.delete("v1", "Pod", f"w-{i}", "t1-apps", grace_seconds=0)
    for i in range(2):  # 18 cpu: more than the cluster has
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 2, cpu="9"))
    for _ in range(3):
        scheduling_cycle(cluster=cluster)

    assert gated(backend, "t1-apps") == 2 and running(backend, "t1-apps") == 0
    row = SchedulingRequest.objects.get(key="t1-apps/train")
    assert row.state == "Rejected" and row.demand["cpu"] == 18000
    state = state_from_json(EngineSnapshot.objects.get(cluster=cluster).state)
    assert "t1-apps/train" not in state.allocations


def test_a_gang_made_again_alike_keeps_its_admission(sandbox_api, operator):
    """Asking the same as it was admitted for, it runs on that admission: nothing runs that the
    engine did not count."""
    cluster, backend, _ = _gang_of_two_running(sandbox_api, operator)
    old = SchedulingRequest.objects.get(key="t1-apps/train")
    for i in range(2):
        backend.delete("v1", "Pod", f"w-{i}", "t1-apps", grace_seconds=0)
    for i in range(2):
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 2))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    assert SchedulingRequest.objects.get(key="t1-apps/train").pk == old.pk
    assert _admitted(cluster, "t1-apps/train")["cpu"] == 2000
