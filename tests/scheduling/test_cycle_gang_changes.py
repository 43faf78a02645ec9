"""A gang whose pods change after it was made a request: it never runs more than the engine
admitted, and a gang made again asking for more waits its turn as a new request.

The seed cluster (tests/scheduling/seed.py): 16 cpu; T1 owns 8, T2 owns 8 and may borrow 4.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scheduling.admitted_room import ungatable
from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, EngineSnapshot, SchedulingRequest
from scheduling.selectors import waiting_list
from scheduling.snapshot import GATE, state_from_json
from tenants.models import Membership
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed, terminating
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def _member(name: str, namespace: str, gang: str, size: int, cpu: str = "1", grace: int = 0) -> dict:
    resources = {"cpu": cpu, "memory": "64Mi"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"bluedock.io/gang": gang, "bluedock.io/gang-size": str(size)}},
            "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": grace,
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
    assert row.message == ("Running 2 of 4 pods: gang t1-apps/train is admitted once, for what it asked then, and "
                           "that does not cover more; its 2 other pods stay gated until pods of the gang are gone. "
                           "Delete the gang's pods and make it again to have it admitted for what it asks now.")
    assert [r.key for r in waiting_list(user=operator, tenant=tenants["t1"])] == ["t1-apps/train"]

    for i in (2, 3):  # scaled back down: nothing is held back any more, and the row says so
        backend.delete("v1", "Pod", f"w-{i}", "t1-apps", grace_seconds=0)
    wait_for(lambda: gated(backend, "t1-apps") == 0, timeout=10)
    scheduling_cycle(cluster=cluster)
    row.refresh_from_db()
    assert row.message == "Running all 2 pods of gang t1-apps/train on its admission."
    assert "held_back" not in row.facts
    assert waiting_list(user=operator, tenant=tenants["t1"]).count() == 0
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
    assert "its 1 other pod stays gated until pods of the gang are gone." in page
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


def _old_pods_leaving(sandbox_api, operator, *, grace: int):
    """A gang of two 1-cpu pods running, then deleted with a grace of its own: its pods still leaving."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    for i in range(2):
        backend.apply(_member(f"w-{i}", "t1-apps", "train", 2, grace=grace))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    for i in range(2):
        backend.delete("v1", "Pod", f"w-{i}", "t1-apps")
    wait_for(lambda: terminating(backend, "t1-apps") == 2, timeout=10)
    return cluster, backend


def _ungated_cpu(backend) -> int:
    return sum(p.requests["cpu"] for p in backend.list_pods("t1-apps") if GATE not in p.scheduling_gates)


def test_a_gang_made_again_while_its_old_pods_leave_waits_for_them(sandbox_api, operator):
    """The old pods hold their capacity until Kubernetes no longer lists them, as evicted pods do:
    the new ones, alike, are ungated on the gang's admission only once they are gone."""
    cluster, backend = _old_pods_leaving(sandbox_api, operator, grace=3)
    old = SchedulingRequest.objects.get(key="t1-apps/train")
    for i in range(2):
        backend.apply(_member(f"n-{i}", "t1-apps", "train", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    scheduling_cycle(cluster=cluster)
    assert gated(backend, "t1-apps") == 2 and _ungated_cpu(backend) == 2000

    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2 and terminating(backend, "t1-apps") == 0)
    assert SchedulingRequest.objects.get(key="t1-apps/train").pk == old.pk
    assert _admitted(cluster, "t1-apps/train")["cpu"] == 2000


def test_a_gang_made_again_asking_more_while_its_old_pods_leave_becomes_a_new_request_once_they_are_gone(
        sandbox_api, operator):
    cluster, backend = _old_pods_leaving(sandbox_api, operator, grace=3)
    old = SchedulingRequest.objects.get(key="t1-apps/train")
    for i in range(2):
        backend.apply(_member(f"n-{i}", "t1-apps", "train", 2, cpu="3"))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    scheduling_cycle(cluster=cluster)
    # Its old hold still counts what the leaving pods hold; the new pods fit nowhere in it.
    assert SchedulingRequest.objects.get(key="t1-apps/train").pk == old.pk
    assert gated(backend, "t1-apps") == 2

    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    new = SchedulingRequest.objects.get(key="t1-apps/train")
    assert new.pk != old.pk and _admitted(cluster, "t1-apps/train")["cpu"] == 6000
    assert terminating(backend, "t1-apps") == 0


def _pod(name: str, *, cpu: int = 1000, memory: int = 0, gated: bool = True, deleting: bool = False):
    return SimpleNamespace(name=name, created_at=name, requests={"cpu": cpu, "memory": memory}, deleting=deleting,
                           scheduling_gates=(GATE,) if gated else ())


def _group(*pods) -> dict:
    return {"pods": list(pods), "gated": [p for p in pods if GATE in p.scheduling_gates],
            "demand": {"cpu": 0, "memory": 0}}


UNGATABLE = [  # (what the request was admitted for, the gang's pods, the pods ungated)
    ("all of a gang just admitted", {"cpu": 2000}, [_pod("a"), _pod("b")], ["a", "b"]),
    ("a pod that joined a running gang", {"cpu": 2000}, [_pod("a", gated=False), _pod("b", gated=False), _pod("c")],
     []),
    ("a crashed pod's replacement", {"cpu": 2000}, [_pod("a", gated=False), _pod("c")], ["c"]),
    ("a replacement while the old pod leaves", {"cpu": 2000},
     [_pod("a", gated=False), _pod("b", gated=False, deleting=True), _pod("c")], []),
    ("oldest first, up to the admission", {"cpu": 2000}, [_pod("c"), _pod("a"), _pod("b")], ["a", "b"]),
    ("a pod asking more than is left", {"cpu": 2000}, [_pod("a", gated=False), _pod("b", cpu=2000)], []),
    ("a resource planned since the admission", {"cpu": 2000}, [_pod("a", gated=False), _pod("b", memory=512)],
     ["b"]),
    ("a gated pod being deleted", {"cpu": 2000}, [_pod("a", deleting=True), _pod("b")], ["b"]),
]


@pytest.mark.parametrize(("admitted", "pods", "ungated"), [u[1:] for u in UNGATABLE], ids=[u[0] for u in UNGATABLE])
def test_which_gated_pods_an_admission_covers(admitted, pods, ungated):
    assert [p.name for p in ungatable(_group(*pods), admitted)] == ungated


def test_pods_someone_else_ungates_beyond_a_gangs_admission_count_as_they_run(sandbox_api, operator, api):
    """The cycle never ungates beyond an admission, but a member with Kubernetes' edit role can:
    what runs is counted (owners can take it back), not left unseen."""
    cluster, backend, tenants = _gang_of_two_running(sandbox_api, operator)
    backend.apply(_member("w-2", "t1-apps", "train", 3))
    wait_for(lambda: gated(backend, "t1-apps") == 1, timeout=10)
    scheduling_cycle(cluster=cluster)
    backend.remove_scheduling_gate("t1-apps", "w-2", GATE)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 3)
    scheduling_cycle(cluster=cluster)

    assert _admitted(cluster, "t1-apps/train")["cpu"] == 3000
    row = SchedulingRequest.objects.get(key="t1-apps/train")
    assert row.message == ("Running 3 pods of gang t1-apps/train, more than it was admitted for: someone removed the "
                           "admission gate of pods beyond its admission. They count against its tenant's share as "
                           "they run.")
    share = api(operator).get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").json()["clusters"][0]
    assert share["used"]["cpu"] == 3000


def test_one_pod_ungated_by_someone_else_does_not_admit_its_waiting_gang(sandbox_api, operator):
    """T2 is at its borrow limit, so its new gang of three waits; a member removes one pod's gate.
    That pod is adopted for what it holds; the gang's other pods stay gated."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 4))
    backend.apply(deployment("batch", "t2-apps", 12))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12)
    for i in range(3):
        backend.apply(_member(f"g-{i}", "t2-apps", "more", 3))
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(key="t2-apps/more", state="Pending").exists())
    backend.remove_scheduling_gate("t2-apps", "g-0", GATE)

    for _ in range(2):
        scheduling_cycle(cluster=cluster)

    assert _admitted(cluster, "t2-apps/more")["cpu"] == 1000
    assert {p.name for p in backend.list_pods("t2-apps") if GATE in p.scheduling_gates} == {"g-1", "g-2"}
    row = SchedulingRequest.objects.get(key="t2-apps/more")
    assert row.state == "Admitted" and "its 2 other pods stay gated" in row.message
