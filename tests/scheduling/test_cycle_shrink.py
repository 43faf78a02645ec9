"""Elastic gangs in the cycle (P4, scenario T31): the engine shrinks a gang, the cluster follows.

The seed cluster (tests/scheduling/seed.py): 16 cpu; T1 owns 8, T2 owns 8 and may borrow 4.
T1 runs 4 one-cpu pods, T2 a gang of 12 one-cpu pods (4 of them borrowed); T1 then scales to 8.
"""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, SchedulingDecision, SchedulingRequest
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed, terminating
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def gang(name: str, namespace: str, size: int, minimum: str | None = None) -> dict:
    annotations = {"bluedock.io/gang": name, "bluedock.io/gang-size": str(size)}
    if minimum is not None:
        annotations["bluedock.io/gang-min"] = minimum
    return deployment(name, namespace, size, annotations=annotations)


def seed_with_gang(sandbox_api, operator, minimum: str | None):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 4))
    backend.apply(gang("train", "t2-apps", 12, minimum))
    wait_for(lambda: gated(backend, "t1-apps") == 4 and gated(backend, "t2-apps") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12)
    return cluster, backend, tenants


def used(api, operator, tenant) -> int:
    return api(operator).get(f"/api/v1/tenants/{tenant.pk}/share/").json()["clusters"][0]["used"]["cpu"]


def test_an_elastic_gang_gives_back_only_the_pods_its_lender_reclaims(sandbox_api, operator, api):
    cluster, backend, tenants = seed_with_gang(sandbox_api, operator, minimum="8")

    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
    cycle_until(cluster, lambda: terminating(backend, "t2-apps") == 4)
    # The 4 evicted pods hold their cpu for their grace: T1's new pods stay gated until they are gone.
    scheduling_cycle(cluster=cluster)
    assert terminating(backend, "t2-apps") == 4 and running(backend, "t2-apps") == 8
    assert gated(backend, "t1-apps") == 4
    holding = SchedulingRequest.objects.filter(tenant=tenants["t1"], state="Reserved")
    assert holding.count() == 4
    waiting = holding.first()
    assert "stay gated until t2-apps/train, a gang shrunk for it, is down to " in waiting.message

    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8)
    for _ in range(3):  # and it stays so: nothing more is evicted, the gang keeps 8
        scheduling_cycle(cluster=cluster)
    assert running(backend, "t2-apps") == 8 and terminating(backend, "t2-apps") == 0
    assert used(api, operator, tenants["t1"]) + used(api, operator, tenants["t2"]) == 16000  # utilisation 100 %
    assert not SchedulingDecision.objects.filter(action="EVICT").exists()
    shrinks = SchedulingDecision.objects.filter(action="SHRINK", request="t2-apps/train").order_by("id")
    assert [s.facts["to"] for s in shrinks] == [{"cpu": 11000}, {"cpu": 10000}, {"cpu": 9000}, {"cpu": 8000}]
    assert "Recorded only" not in shrinks.last().message
    assert "the gang's newest pods beyond 8 are evicted" in shrinks.last().message
    admitted = SchedulingDecision.objects.get(action="ADMIT", request=waiting.key)
    assert admitted.reason == "ADMITTED_BY_TRANSFER" and "on the capacity given up by shrinking" in admitted.message
    assert admitted.message.endswith("Its pods stay gated until the gang's pods beyond its new size are gone.")

    # The ReplicaSet replaced the 4 evicted pods; they stay gated as the shrunk gang's surplus.
    assert gated(backend, "t2-apps") == 4
    train = SchedulingRequest.objects.get(key="t2-apps/train")
    assert train.state == "Admitted"
    assert train.message == (f"Running 8 of 12 pods: gang t2-apps/train was shrunk to 8 by owned reclaim for "
                             f"{shrinks.last().preemptor}; 4 more pods wait gated.")
    lifted = SchedulingRequest.objects.get(key=waiting.key)
    assert lifted.state == "Admitted" and lifted.message.startswith(f"Admitted {lifted.key} on the capacity "
                                                                    "t2-apps/train gave up by shrinking: its pods")
    why = api(operator).get(f"/api/v1/scheduling/requests/{train.pk}/why/").json()
    assert why["message"] == train.message and why["decisions"][0]["action"] == "SHRINK"

    # Its hold was closed and reopened at the new size, on the 8 pods it kept.
    (closed,) = Binding.objects.filter(event="close", request="t2-apps/train")
    assert closed.reason == "SHRUNK" and closed.demand == {"cpu": 12000} and closed.share == "borrowed"
    (held,) = Binding.objects.open().filter(request="t2-apps/train")
    assert held.demand == {"cpu": 8000} and held.share == "owned" and held.reason == "SHRUNK"
    kept = {p.name for p in backend.list_pods("t2-apps") if not p.scheduling_gates}
    assert set(held.pods) == kept and len(kept) == 8


def test_a_gang_without_gang_min_is_evicted_whole(sandbox_api, operator, api):
    """T31 base: the whole gang goes for 4 cpu; when its pods are gone T1's 4 start and the gang
    (recreated, gated) waits for 12 cpu that are not there: utilisation 50 %."""
    cluster, backend, tenants = seed_with_gang(sandbox_api, operator, minimum=None)

    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
    cycle_until(cluster, lambda: terminating(backend, "t2-apps") == 12)
    scheduling_cycle(cluster=cluster)
    assert gated(backend, "t1-apps") == 4
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8, seconds=10)
    for _ in range(3):
        scheduling_cycle(cluster=cluster)
    assert running(backend, "t2-apps") == 0 and gated(backend, "t2-apps") == 12
    (evict,) = SchedulingDecision.objects.filter(action="EVICT")
    assert evict.victim == "t2-apps/train" and evict.facts["note"] == "WHOLE_GANG"
    assert not SchedulingDecision.objects.filter(action="SHRINK").exists()
    train = SchedulingRequest.objects.get(key="t2-apps/train")
    assert (train.state, train.reason) == ("Pending", "PENDING_NO_CAPACITY")
    assert used(api, operator, tenants["t1"]) + used(api, operator, tenants["t2"]) == 8000  # utilisation 50 %
    (ended,) = Binding.objects.filter(event="close", request="t2-apps/train")
    assert ended.reason == "EVICTED"


def test_evictions_lost_with_a_worker_are_redone_on_the_same_pods(sandbox_api, operator):
    """The shrink is committed before it is enacted; if the evictions never happen (the worker
    died, the API failed), the next pass evicts the same newest pods, and only them."""
    cluster, backend, tenants = seed_with_gang(sandbox_api, operator, minimum="8")
    newest = sorted(backend.list_pods("t2-apps"), key=lambda p: (p.created_at, p.name))[8:]
    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
    wait_for(lambda: gated(backend, "t1-apps") == 4, timeout=10)
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 4, "status": 500, "methods": ["POST"]})
    summary = scheduling_cycle(cluster=cluster)
    sandbox_api.admin("DELETE", "/sandbox/faults")
    assert summary["enacted"] == {"ungated": 0, "evicted": 0}
    assert SchedulingDecision.objects.filter(action="SHRINK").count() == 4
    assert terminating(backend, "t2-apps") == 0 and gated(backend, "t1-apps") == 4  # nothing moved

    assert scheduling_cycle(cluster=cluster)["enacted"]["evicted"] == 4
    assert {p.name for p in backend.list_pods("t2-apps") if p.deleting} == {p.name for p in newest}
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8)
    assert running(backend, "t2-apps") == 8 and not SchedulingDecision.objects.filter(action="EVICT").exists()


def test_a_shrink_by_part_of_a_pod_evicts_the_whole_pod_and_frees_the_rest_once_it_is_gone(sandbox_api, operator,
                                                                                            api):
    """T1 asks for 500m: the engine shrinks the gang by exactly that (12000m → 11500m); the cycle
    evicts one whole pod and, once it is gone, holds the gang at the 11 pods it runs (11000m)."""
    cluster, backend, tenants = seed_with_gang(sandbox_api, operator, minimum="8")
    backend.apply(deployment("half", "t1-apps", 1, cpu="500m"))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 5)
    for _ in range(2):
        scheduling_cycle(cluster=cluster)
    assert running(backend, "t2-apps") == 11 and gated(backend, "t2-apps") == 1
    (shrink,) = SchedulingDecision.objects.filter(action="SHRINK")
    assert shrink.facts["to"] == {"cpu": 11500} and shrink.preemptor.startswith("t1-apps/half-")
    assert used(api, operator, tenants["t2"]) == 11000 and used(api, operator, tenants["t1"]) == 4500
    assert [b.demand for b in Binding.objects.filter(event="open", request="t2-apps/train").order_by("id")] == [
        {"cpu": 12000}, {"cpu": 11500}, {"cpu": 11000}]
    assert SchedulingRequest.objects.get(key="t2-apps/train").message == (
        f"Running 11 of 12 pods: gang t2-apps/train was shrunk to 11 by owned reclaim for {shrink.preemptor}; "
        "1 more pod waits gated.")


BAD = [  # gang (2 pods of 100m unless said), its pods' annotations, the note on the request
    ("word", {"bluedock.io/gang-min": "eight"}, "bluedock.io/gang-min 'eight' ignored: it must be a whole number"),
    ("zero", {"bluedock.io/gang-min": "0"}, "bluedock.io/gang-min '0' ignored: it must be a whole number"),
    ("big", {"bluedock.io/gang-min": "3"}, "bluedock.io/gang-min '3' ignored: more than the gang's "
                                           "bluedock.io/gang-size 2."),
    ("size", {"bluedock.io/gang-size": "two", "bluedock.io/gang-min": "1"},
     "bluedock.io/gang-size 'two' ignored: it must be a whole number of pods, at least 1."),
]


def test_bad_gang_annotations_are_ignored_with_a_reason_and_the_pass_goes_on(sandbox_api, operator, caplog):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    for name, extra, _ in BAD:
        backend.apply(deployment(name, "t2-apps", 2, cpu="100m",
                                 annotations={"bluedock.io/gang": name, "bluedock.io/gang-size": "2", **extra}))
    backend.apply(deployment("solo", "t2-apps", 1, cpu="100m", annotations={"bluedock.io/gang-min": "1"}))
    mixed = [deployment(f"mixed-{cpu}", "t2-apps", 1, cpu=f"{cpu}m", annotations={
        "bluedock.io/gang": "mixed", "bluedock.io/gang-size": "2", "bluedock.io/gang-min": "1"}) for cpu in (100, 200)]
    for d in mixed:
        backend.apply(d)
    wait_for(lambda: gated(backend, "t2-apps") == 2 * len(BAD) + 3, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 2 * len(BAD) + 3)

    notes = {r.key.split("/")[1].split("-")[0]: r.notes for r in SchedulingRequest.objects.all()}
    for name, _, note in BAD:
        assert any(note in n for n in notes[name]), (name, notes[name])
    assert notes["solo"] == ["bluedock.io/gang-min '1' ignored: the pod is not in a gang (no bluedock.io/gang "
                             "annotation)."]
    assert "do not all ask for the same resources" in notes["mixed"][0]
    assert not SchedulingRequest.objects.filter(key="t2-apps/zero").exclude(state="Admitted").exists()
    logged = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(logged) == len(BAD) + 2  # once each, when the request is made, not every pass


def test_the_page_shows_a_shrunk_gangs_waiting_pods_to_its_tenant_only(sandbox_api, operator, client, api,
                                                                        make_user):
    from tenants.models import Membership

    cluster, backend, tenants = seed_with_gang(sandbox_api, operator, minimum="8")
    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8)
    scheduling_cycle(cluster=cluster)
    tia, tom = make_user("tia"), make_user("tom")
    Membership.objects.create(tenant=tenants["t2"], user=tia, role="member")
    Membership.objects.create(tenant=tenants["t1"], user=tom, role="member")
    client.force_login(tia)
    page = client.get(f"/tenants/{tenants['t2'].pk}/scheduling/").content.decode()
    assert ("gang t2-apps/train was shrunk to 8 by owned reclaim for another tenant&#x27;s workload; 4 more pods wait "
            "gated.") in page
    train = SchedulingRequest.objects.get(key="t2-apps/train")
    assert api(tom).get(f"/api/v1/scheduling/requests/{train.pk}/why/").status_code == 404
    assert "t2-apps/train" not in api(tom).get("/api/v1/scheduling/requests/").content.decode()
    assert not [b for b in api(tom).get("/api/v1/scheduling/bindings/").json()["results"]
                if b["request"] == "t2-apps/train"]
