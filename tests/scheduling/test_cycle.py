"""The scheduling cycle against the sandbox: observe pods, decide, record, enact."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, SchedulingDecision, SchedulingRequest
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed, terminating
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def test_the_seed_case_t1_gets_its_owned_share_back_from_the_borrower(sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 4))
    backend.apply(deployment("batch", "t2-apps", 12))
    wait_for(lambda: gated(backend, "t1-apps") == 4 and gated(backend, "t2-apps") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12)
    t2_batch = SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Admitted")
    assert sorted(t2_batch.values_list("share", flat=True)).count("borrowed") == 4  # 8 owned + 4 borrowed
    held = Binding.objects.open().filter(tenant=tenants["t2"])
    assert held.count() == 12 and held.filter(share="borrowed", lender_scope="root").count() == 4
    assert {b.borrowed["cpu"] for b in held.filter(share="borrowed")} == {1000}
    share = api(operator).get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").json()["clusters"][0]
    assert share["who_is_borrowing_from"] == [{"tenant": "t2", "borrowed": {"cpu": 4000},
                                               "lender_scope": ["the cluster"], "bindings": 4}]

    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 8)
    cycle_until(cluster, lambda: terminating(backend, "t2-apps") == 4)
    # The victims wait out their grace still holding their cpu, so T1's pods stay gated (reserved
    # for them), and the victims' bindings stay open until Kubernetes confirms the pods gone.
    scheduling_cycle(cluster=cluster)
    assert gated(backend, "t1-apps") == 4
    assert SchedulingRequest.objects.filter(tenant=tenants["t1"], state="Reserved").count() == 4
    assert Binding.objects.open().filter(tenant=tenants["t2"]).count() == 12
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 8)
    assert running(backend, "t2-apps") == 8
    evictions = SchedulingDecision.objects.filter(action="EVICT")
    assert evictions.count() == 4 and set(evictions.values_list("reason", flat=True)) == {"EVICT_RECLAIM_OWNED"}
    ended = Binding.objects.filter(event="close", tenant=tenants["t2"])
    assert ended.count() == 4 and set(ended.values_list("reason", flat=True)) == {"EVICTED"}
    assert Binding.objects.open().filter(tenant=tenants["t2"]).count() == 8
    t1_held = Binding.objects.open().filter(tenant=tenants["t1"])
    assert t1_held.count() == 8 and set(t1_held.values_list("share", flat=True)) == {"owned"}
    assert t1_held.filter(reason="ADMITTED_BY_TRANSFER").count() == 4
    # T2's replacements wait, each with a one-line reason the UI shows.
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Pending").count() == 4)
    waiting = SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Pending").first()
    assert waiting.reason.startswith("PENDING_") and waiting.message

    why = api(operator).get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()
    # The record keeps the engine's millicores; whoever reads it reads cores (scheduling/units.py).
    assert waiting.message == f"{waiting.key} waits: the cluster has 0 cpu free (16000 used of 16000); it needs 1000."
    assert why["state"] == "Pending"
    assert why["message"] == f"{waiting.key} waits: the cluster has 0 cpu free (16 used of 16); it needs 1."
    share = api(operator).get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").json()["clusters"][0]
    assert share["owned"] == {"cpu": 8000} and share["used"] == {"cpu": 8000}


def test_a_pass_on_an_unchanged_cluster_decides_nothing(sandbox_api, operator):
    cluster, backend, _ = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    before = (SchedulingDecision.objects.count(), Binding.objects.count())
    for _ in range(3):
        scheduling_cycle(cluster=cluster)
    assert (SchedulingDecision.objects.count(), Binding.objects.count()) == before


def test_a_hold_ends_with_a_finished_binding_when_its_pod_goes(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    backend.scale("apps/v1", "Deployment", "t1-apps", "web", 1)
    cycle_until(cluster, lambda: Binding.objects.open().count() == 1)
    (ended,) = Binding.objects.filter(event="close")
    assert ended.reason == "FINISHED" and ended.opened.request == ended.request and ended.tenant == tenants["t1"]
    assert ended.opened.closed_by == ended


def test_other_tenants_see_nothing_of_the_requests(sandbox_api, operator, api, make_user):
    from tenants.models import Membership

    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    outsider = make_user("mallory")
    Membership.objects.create(tenant=tenants["t2"], user=outsider, role="member")
    backend.apply(deployment("web", "t1-apps", 1))
    wait_for(lambda: gated(backend, "t1-apps") == 1, timeout=10)
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(tenant=tenants["t1"]).exists())
    request = SchedulingRequest.objects.get(tenant=tenants["t1"])
    client = api(outsider)
    assert client.get(f"/api/v1/scheduling/requests/{request.pk}/why/").status_code == 404
    assert client.get("/api/v1/scheduling/requests/").json()["results"] == []
    assert client.get(f"/api/v1/tenants/{tenants['t1'].pk}/share/").status_code == 404


def test_the_scheduling_page_shows_the_share_bar_and_why_pods_wait(sandbox_api, operator, client, make_user):
    from tenants.models import Membership

    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    owner = make_user("tia")
    Membership.objects.create(tenant=tenants["t2"], user=owner, role="member")
    backend.apply(deployment("batch", "t2-apps", 14))  # 8 owned + 4 borrow limit: 2 must wait
    wait_for(lambda: gated(backend, "t2-apps") == 14, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 12)
    scheduling_cycle(cluster=cluster)
    client.force_login(owner)
    page = client.get(f"/tenants/{tenants['t2'].pk}/scheduling/").content.decode()
    assert "owned 8 · used 12 · borrowed 4" in page  # cores: the page reads display units (units.py)
    waiting = SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Pending")
    # The record keeps the engine's node id and millicores; the page reads the tenant's path and cores.
    first = waiting.first()
    assert waiting.count() == 2 and first.reason == "PENDING_BORROW_LIMIT"
    assert f" waits: t{tenants['t2'].pk} uses 12000 of owned 8000 + borrow limit 4000 cpu;" in first.message
    assert f"{first.key} waits: tenant t2 uses 12 of owned 8 + borrow limit 4 cpu; it needs 1, 0 available." in page
    assert client.get(f"/tenants/{tenants['t1'].pk}/scheduling/").status_code == 404


def test_other_scheduling_gates_are_admission_checks_that_hold_quota_until_removed(sandbox_api, operator):
    """A4c through Kubernetes: another controller's gate on our gated pods is an external check.
    While it is there the pods' quota is reserved (a later pod of the borrower cannot take it) and
    the pods stay gated; once the controller removes its gate the next pass admits them."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    checked = deployment("checked", "t1-apps", 6)
    checked["spec"]["template"]["spec"]["schedulingGates"].append({"name": "example.com/license-check"})
    backend.apply(checked)
    wait_for(lambda: gated(backend, "t1-apps") == 6, timeout=10)
    cycle_until(cluster, lambda: SchedulingRequest.objects.filter(tenant=tenants["t1"], reason="PENDING_GATES",
                                                                  state="Reserved").count() == 6)
    waiting = SchedulingRequest.objects.filter(tenant=tenants["t1"]).first()
    assert "example.com/license-check" in waiting.message
    # T2 may borrow 4 of T1's idle 8, but 6 of T1's 8 are reserved by the checks in flight.
    backend.apply(deployment("batch", "t2-apps", 12))
    cycle_until(cluster, lambda: running(backend, "t2-apps") == 10)
    for _ in range(3):
        scheduling_cycle(cluster=cluster)
    assert running(backend, "t2-apps") == 10 and running(backend, "t1-apps") == 0
    assert gated(backend, "t1-apps") == 6
    for pod in backend.list_pods("t1-apps"):
        backend.remove_scheduling_gate("t1-apps", pod.name, "example.com/license-check")
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 6)
    admitted = SchedulingDecision.objects.filter(action="ADMIT", request__startswith="t1-apps/")
    assert admitted.count() == 6
