"""Config versions in the cycle: plans that make an invalid config are refused once (V6), the
previous version stays in force (P18), and the passes that follow go idle."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle, scheduling_tick
from scheduling.models import EngineSnapshot, SchedulingDecision, SchedulingRequest
from tenants.models import ResourcePlan, Tenant
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def _child(parent: Tenant, slug: str, owned: int) -> Tenant:
    parent = Tenant.objects.get(pk=parent.pk)
    child = Tenant.objects.add_child(parent, instance=Tenant(parent=parent, name=slug.upper(), slug=slug,
                                                              full_slug=f"{parent.full_slug}/{slug}"))
    ResourcePlan.objects.create(tenant=child, resource="cpu", owned=owned)
    return child


def _owned(record: EngineSnapshot, tenant: Tenant) -> int:
    return {n["id"]: n["owned"].get("cpu") for n in record.config["nodes"]}[f"t{tenant.pk}"]


def test_plans_that_became_invalid_are_refused_once_and_the_version_in_force_stays(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    team = _child(tenants["t1"], "team", owned=2000)  # of T1's 8000: T1's own pods get a pool of 6000
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    in_force = EngineSnapshot.objects.get(cluster=cluster)

    # The plans are saved behind the API's back (a race, a bad import): the child now owns more
    # than its parent (V2). Nothing may change but one recorded refusal.
    ResourcePlan.objects.filter(tenant=team).update(owned=9000)
    summaries = [scheduling_cycle(cluster=cluster) for _ in range(4)]
    (refused,) = SchedulingDecision.objects.filter(action="REJECT")
    assert refused.reason == "REJECT_INVALID_CONFIG" and refused.facts["rules"] == ["V2"]
    assert "the previous version stays in force" in refused.message
    assert refused.facts["version"] == in_force.config_version + 1
    assert [s["decisions"] for s in summaries] == [1, 0, 0, 0]
    assert not any(any(s["enacted"].values()) for s in summaries)
    record = EngineSnapshot.objects.get(cluster=cluster)
    assert (record.config_version, record.config, record.config_digest) == (
        in_force.config_version, in_force.config, in_force.config_digest)
    # Idle passes: a tick polls instead of passing back to back (a busy tick passes ~10 times a second).
    assert scheduling_tick(seconds=1.0, poll=0.4)["passes"] <= 3
    assert SchedulingDecision.objects.filter(action="REJECT").count() == 1

    # The version in force still schedules: a new pod is admitted under it.
    backend.apply(deployment("api", "t1-apps", 1))
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 3)
    admitted = SchedulingDecision.objects.get(action="ADMIT", request__startswith="t1-apps/api-")
    assert admitted.config_version == in_force.config_version
    assert SchedulingRequest.objects.filter(state="Admitted").count() == 3

    # Fixed plans are a new version, accepted at the next pass.
    ResourcePlan.objects.filter(tenant=team).update(owned=3000)
    assert scheduling_cycle(cluster=cluster)["decisions"] == 0
    record = EngineSnapshot.objects.get(cluster=cluster)
    assert record.config_version == in_force.config_version + 1 and _owned(record, team) == 3000
    assert record.rejected_digest == ""
    assert SchedulingDecision.objects.filter(action="REJECT").count() == 1

    # The same mistake made again later is a new change of the plans: refused anew, once.
    ResourcePlan.objects.filter(tenant=team).update(owned=9000)
    for _ in range(3):
        scheduling_cycle(cluster=cluster)
    assert SchedulingDecision.objects.filter(action="REJECT").count() == 2
    assert EngineSnapshot.objects.get(cluster=cluster).config_version == in_force.config_version + 1


def test_plans_invalid_from_the_start_are_refused_once_and_nothing_is_scheduled(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    team = _child(tenants["t1"], "team", owned=9000)
    backend.apply(deployment("web", "t1-apps", 1))
    wait_for(lambda: gated(backend, "t1-apps") == 1, timeout=10)
    summaries = [scheduling_cycle(cluster=cluster) for _ in range(3)]
    assert [s["decisions"] for s in summaries] == [1, 0, 0]
    assert {s["config"] for s in summaries} == {"rejected"}
    assert SchedulingDecision.objects.filter(action="REJECT").count() == 1
    assert gated(backend, "t1-apps") == 1 and EngineSnapshot.objects.get(cluster=cluster).config is None

    ResourcePlan.objects.filter(tenant=team).update(owned=2000)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 1)
    assert EngineSnapshot.objects.get(cluster=cluster).config_version == 1
