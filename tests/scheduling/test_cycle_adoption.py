"""Pods that run without the admission gate are adopted: the engine counts them as admitted holds,
and their share reads as an admission would have, oldest first (owned, then borrowed)."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, SchedulingDecision, SchedulingRequest
from tests.scheduling.seed import GATE, cycle_until, deployment, running, setup_seed, terminating

pytestmark = pytest.mark.django_db


def _ungated(name: str, namespace: str, replicas: int, **kwargs) -> dict:
    """A workload made without the portal's gate (before the portal, or by hand)."""
    manifest = deployment(name, namespace, replicas, **kwargs)
    manifest["spec"]["template"]["spec"]["schedulingGates"] = []
    return manifest


def test_ungated_pods_beyond_the_owned_share_read_as_borrowed(sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(_ungated("legacy", "t2-apps", 12))  # T2 owns 8, may borrow 4: it borrows all 4
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12
                and SchedulingRequest.objects.filter(state="Admitted").count() == 12)
    assert not SchedulingDecision.objects.exists()  # adopted, not decided

    rows = SchedulingRequest.objects.filter(tenant=tenants["t2"])
    assert sorted(rows.values_list("reason", "share", "lender_scope")) == (
        [("ADMITTED_BORROWING", "borrowed", "root")] * 4 + [("ADMITTED_WITHIN_OWNED", "owned", "")] * 8)
    one = rows.filter(share="borrowed").first()
    assert one.message == f"Adopted {one.key} by borrowing 1 cpu under the cluster: its pods run without " \
                          f"the admission gate."  # display units (cores), the root named as everywhere
    why = api(operator).get(f"/api/v1/scheduling/requests/{one.pk}/why/").json()
    assert (why["reason"], why["share"], why["lender_scope"]) == ("ADMITTED_BORROWING", "borrowed", "the cluster")
    assert why["engine"]["lender_scope"] == "the cluster"

    held = Binding.objects.open().filter(tenant=tenants["t2"])
    assert held.count() == 12 and set(held.values_list("reason", flat=True)) == {"ADOPTED"}
    assert held.filter(share="borrowed", lender_scope="root").count() == 4
    assert {b.borrowed["cpu"] for b in held.filter(share="borrowed")} == {1000}
    share = api(operator).get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").json()["clusters"][0]
    assert share["who_is_borrowing_from"] == [{"tenant": "t2", "borrowed": {"cpu": 4000},
                                               "lender_scope": ["the cluster"], "bindings": 4}]

    # Adopted holds are holds like the others: T1 wanting its owned 8 takes 4 back from them.
    backend.apply(deployment("web", "t1-apps", 8))
    cycle_until(cluster, lambda: terminating(backend, "t2-apps") == 4)
    assert SchedulingDecision.objects.filter(action="EVICT", reason="EVICT_RECLAIM_OWNED").count() == 4


def test_ungated_pods_read_as_owned_until_their_tenant_uses_its_owned_share(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(_ungated("legacy", "t1-apps", 3))
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(state="Admitted").count() == 3)
    scheduling_cycle(cluster=cluster)
    rows = SchedulingRequest.objects.filter(tenant=tenants["t1"])
    assert set(rows.values_list("reason", "share", "lender_scope")) == {("ADMITTED_WITHIN_OWNED", "owned", "")}
    assert Binding.objects.open().filter(share="owned", reason="ADOPTED").count() == 3

    # 7 more: T1 runs 10 on an owned 8. The first 3 keep their owned share; 2 of the new ones borrow.
    backend.apply(_ungated("more", "t1-apps", 7))
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(state="Admitted").count() == 10)
    legacy = rows.filter(name__startswith="legacy-")
    assert set(legacy.values_list("share", flat=True)) == {"owned"}
    more = rows.filter(name__startswith="more-")
    assert sorted(more.values_list("share", flat=True)) == ["borrowed"] * 2 + ["owned"] * 5
    assert Binding.objects.open().filter(share="borrowed", lender_scope="root").count() == 2


def test_a_waiting_pod_whose_gate_someone_else_removed_is_counted_as_it_runs(sandbox_api, operator, api):
    """A member with Kubernetes' edit role can remove the gate from a pod the engine keeps waiting:
    it then runs (or may at any moment) without an admission, and is adopted like a pod made
    without the gate, so its tenant's share counts it and owners can take it back."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 4))
    backend.apply(deployment("batch", "t2-apps", 12))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12)
    backend.apply(deployment("more", "t2-apps", 1))  # T2 is at its borrow limit: this one waits
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Pending").count() == 1)
    waiting = SchedulingRequest.objects.get(tenant=tenants["t2"], state="Pending")
    namespace, name = waiting.key.split("/")
    backend.remove_scheduling_gate(namespace, name, GATE)

    scheduling_cycle(cluster=cluster)

    row = SchedulingRequest.objects.get(key=waiting.key)
    assert row.state == "Admitted" and row.facts.get("adopted") is True
    assert row.message.startswith(f"Adopted {waiting.key} ")
    share = api(operator).get(f"/api/v1/tenants/{tenants['t2'].pk}/share/").json()["clusters"][0]
    assert share["used"]["cpu"] == 13000
