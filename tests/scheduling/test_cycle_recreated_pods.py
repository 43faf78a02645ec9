"""A pod deleted and made again under the same name (a StatefulSet's rolling update, a pod a user
recreates) is a new request, even when the cycle never saw the name go: the old one's hold ends
and the new one waits its turn for what it asks now."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from scheduling.cycle import _made_again, scheduling_cycle
from scheduling.engine.model import Allocation, Request, State, Status
from scheduling.models import Binding, SchedulingDecision, SchedulingRequest
from scheduling.snapshot import GATE
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for


def _pod(name: str, namespace: str, cpu: str) -> dict:
    resources = {"cpu": cpu, "memory": "64Mi"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "db", "image": "registry.local/db:1",
                                     "resources": {"requests": resources, "limits": dict(resources)}}]}}


def _recreate(backend, name: str, namespace: str, cpu: str) -> None:
    """Delete the pod and make it again before the next pass: the cycle never sees the name go."""
    backend.delete("v1", "Pod", name, namespace, grace_seconds=0)
    backend.apply(_pod(name, namespace, cpu))


def _pod_named(backend, namespace: str, name: str):
    return next(p for p in backend.list_pods(namespace) if p.name == name)


@pytest.mark.django_db
def test_a_pod_made_again_with_a_bigger_request_waits_instead_of_inheriting_the_old_admission(
        sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("batch", "t2-apps", 12))  # T2 takes its 8 and borrows 4 of T1's
    backend.apply(deployment("web", "t1-apps", 2))
    backend.apply(_pod("db-0", "t1-apps", "1"))
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12 and running(backend, "t1-apps") == 3)
    old = SchedulingRequest.objects.get(key="t1-apps/db-0")
    assert old.state == "Admitted" and old.demand["cpu"] == 1000

    _recreate(backend, "db-0", "t1-apps", "3")  # 2 cpu free once the old pod is gone
    scheduling_cycle(cluster=cluster)

    # Inheriting the old admission, it would run on 2 cpu the engine never granted. It waits for
    # one of T1's cpu that T2 borrows instead, as any new pod of T1's would.
    assert GATE in _pod_named(backend, "t1-apps", "db-0").scheduling_gates
    new = SchedulingRequest.objects.get(key="t1-apps/db-0")
    assert new.pk != old.pk and new.demand["cpu"] == 3000 and new.state == "Reserved"
    (evicted,) = SchedulingDecision.objects.filter(action="EVICT", preemptor="t1-apps/db-0")
    assert evicted.reason == "EVICT_RECLAIM_OWNED" and evicted.victim.startswith("t2-apps/")
    (ended,) = Binding.objects.filter(event="close", request="t1-apps/db-0")
    assert ended.reason == "FINISHED" and ended.demand["cpu"] == 1000
    # Its why starts with the new pod: the old one's admission is not part of it.
    why = api(operator).get(f"/api/v1/scheduling/requests/{new.pk}/why/").json()
    assert [d["action"] for d in why["decisions"]] == ["EVICT", "RESERVE"]


@pytest.mark.django_db
def test_a_pod_made_again_alike_is_still_a_new_request(sandbox_api, operator):
    cluster, backend, _ = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(_pod("db-0", "t1-apps", "1"))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 1)
    first = _pod_named(backend, "t1-apps", "db-0").uid

    _recreate(backend, "db-0", "t1-apps", "1")
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 1)

    assert _pod_named(backend, "t1-apps", "db-0").uid != first
    admits = SchedulingDecision.objects.filter(action="ADMIT", request="t1-apps/db-0")
    assert admits.count() == 2
    opens = Binding.objects.filter(event="open", request="t1-apps/db-0").order_by("pk")
    assert opens.count() == 2 and opens[0].closed_by.reason == "FINISHED"
    assert Binding.objects.open().filter(request="t1-apps/db-0").count() == 1


@pytest.mark.django_db
def test_an_evicted_pod_made_again_under_its_name_is_the_same_request_queued_again(sandbox_api, operator, api):
    """An evicted pod's replacement (a StatefulSet's, under the same name) is the same request
    queued again (engine: release_allocation), whatever its uid: its why goes on from the eviction."""
    cluster, backend, _ = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    for i in range(12):
        backend.apply(_pod(f"b-{i}", "t2-apps", "1"))
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12)
    backend.apply(deployment("web", "t1-apps", 8))
    cycle_until(cluster, lambda: SchedulingDecision.objects.filter(action="EVICT").count() == 4)
    victims = sorted(SchedulingDecision.objects.filter(action="EVICT").values_list("victim", flat=True))
    names = [v.split("/", 1)[1] for v in victims]
    rows = dict(SchedulingRequest.objects.filter(key__in=victims).values_list("key", "pk"))
    wait_for(lambda: not {p.name for p in backend.list_pods("t2-apps")} & set(names), timeout=15)
    for name in names:
        backend.apply(_pod(name, "t2-apps", "1"))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8)

    assert gated(backend, "t2-apps") == 4
    assert dict(SchedulingRequest.objects.filter(key__in=victims).values_list("key", "pk")) == rows
    assert set(SchedulingRequest.objects.filter(key__in=victims).values_list("state", flat=True)) == {"Pending"}
    assert set(Binding.objects.filter(event="close", request__in=victims).values_list("reason", flat=True)) == {
        "EVICTED"}
    why = api(operator).get(f"/api/v1/scheduling/requests/{rows[victims[0]]}/why/").json()
    assert "EVICT" in [d["action"] for d in why["decisions"]]


def _state(status: Status, *, terminating: bool | None = None, demand=None, priority: int = 0) -> State:
    q = Request(id="ns/db-0", leaf="t1", demand=demand or {"cpu": 1000, "pods": 1}, priority=priority)
    allocs = {} if terminating is None else {q.id: replace(Allocation.new(q.id, q.leaf, q.demand, 0),
                                                            terminating=terminating)}
    return State(requests={q.id: q}, status={q.id: status}, allocations=allocs)


def _group(uid: str, *, gang: bool = False, cpu: int = 1000, gpu: int = 0, priority: int = 0, placed: bool = False,
           size: int = 1, leaving: bool = False) -> dict:
    """One pod listed under the request's name (for a gang: the one pod of it listed, of ``size``, and
    if ``leaving`` an old pod of it being deleted, still ungated)."""
    pod = SimpleNamespace(uid=uid, name="db-0", created_at="2026-11-27T00:00:01Z", priority=priority, deleting=False,
                          scheduling_gates=[] if placed else [GATE])
    old = [SimpleNamespace(uid="u0", name="db-0-old", created_at="2026-11-27T00:00:00Z", priority=0, deleting=True,
                           scheduling_gates=[])] if leaving else []
    return {"ns/db-0": {"gang": gang, "pods": [*old, pod], "members": [pod], "priority": priority, "size": size,
                        "demand": {"cpu": cpu, "memory": 0, "pods": 1, "gpu": gpu}}}


ADMITTED, REQUEUED = Status("Admitted", "ADMITTED_WITHIN_OWNED"), Status("Pending", "", times_preempted=1)
MADE_AGAIN = [  # (what the engine holds, the pod listed now, whether it is another request)
    ("same pod", _state(ADMITTED, terminating=False, demand={"cpu": 1000, "memory": 0, "pods": 1, "gpu": 0}),
     _group("u1"), False),
    ("new uid, admitted", _state(ADMITTED, terminating=False), _group("u2"), True),
    ("new uid, waiting", _state(Status("Pending", "PENDING_NO_CAPACITY")), _group("u2"), True),
    ("an eviction's replacement, hold still terminating", _state(ADMITTED, terminating=True), _group("u2"), False),
    ("an eviction's replacement, hold already expired", _state(REQUEUED), _group("u2"), False),
    ("an eviction's replacement asking more", _state(REQUEUED), _group("u2", cpu=2000), True),
    ("same pod, a resource the cluster gained", _state(ADMITTED, terminating=False), _group("u1"), False),
    ("same uid, asking more (resized in place)", _state(ADMITTED, terminating=False), _group("u1", gpu=1), True),
    ("another priority", _state(ADMITTED, terminating=False), _group("u2", priority=100), True),
    ("a waiting pod someone else ungated", _state(Status("Pending", "PENDING_NO_CAPACITY")),
     _group("u1", placed=True), True),
    ("a rejected gang someone else ungated", _state(Status("Rejected", "REJECT_NEVER_FITS")),
     _group("u2", gang=True, placed=True), True),
    # A gang's pods come and go under its name: what it asks tells it apart, not its pods' uids.
    ("a gang running on its admission, its pods asking more", _state(ADMITTED, terminating=False),
     _group("u2", gang=True, cpu=5000, placed=True), False),
    ("a gang made again asking more", _state(ADMITTED, terminating=False), _group("u2", gang=True, cpu=5000), True),
    ("a gang made again alike", _state(ADMITTED, terminating=False), _group("u2", gang=True), False),
    ("a gang made again asking more while its old pods leave", _state(ADMITTED, terminating=False),
     _group("u2", gang=True, cpu=5000, leaving=True), False),
    ("a gang made again at another priority", _state(ADMITTED, terminating=False),
     _group("u2", gang=True, priority=100), True),
    ("a waiting gang whose pods changed", _state(Status("Pending", "PENDING_NO_CAPACITY")),
     _group("u2", gang=True, cpu=500), True),
    ("an evicted gang, its replacements still coming", _state(REQUEUED, demand={"cpu": 2000, "pods": 2}),
     _group("u2", gang=True, size=2), False),
    ("a gang made again asking more, its pods still coming", _state(ADMITTED, terminating=False),
     _group("u2", gang=True, cpu=2000, size=2), True),
]


@pytest.mark.parametrize(("engine_state", "groups", "another"), [m[1:] for m in MADE_AGAIN],
                         ids=[m[0] for m in MADE_AGAIN])
def test_which_pods_are_another_request(engine_state, groups, another):
    rows = {"ns/db-0": SimpleNamespace(pod_uid="u1")}
    assert (_made_again(groups, rows, engine_state) == {"ns/db-0"}) is another
