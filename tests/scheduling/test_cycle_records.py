"""What a pass records: all of it or nothing (one transaction), one pass at a time per cluster (an
advisory lock), and a history that is only ever appended to."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from scheduling.cycle import LOCK_NAMESPACE, scheduling_cycle, scheduling_tick
from scheduling.models import Binding, EngineSnapshot, SchedulingDecision, SchedulingRequest
from tenants.models import Cluster, Tenant
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for

FAIL_LAST_WRITE = """
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not extend file: No space left on device (test)'; END $$;
CREATE TRIGGER refuse_snapshot BEFORE UPDATE ON scheduling_enginesnapshot
    FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
"""


def _written(cluster) -> tuple:
    record = EngineSnapshot.objects.filter(cluster=cluster).first()
    return (SchedulingDecision.objects.count(), Binding.objects.count(), SchedulingRequest.objects.count(),
            record.pass_seq if record else None)


@pytest.mark.django_db
def test_a_pass_that_fails_while_recording_leaves_nothing_half_written_and_enacts_nothing(sandbox_api, operator):
    """The engine state is the last write of the pass's transaction; when the database refuses
    it, the decisions, bindings and request rows written before it in the pass go too, and no pod
    is ungated (enactment follows the commit). The next pass does it all, once."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    scheduling_cycle(cluster=cluster)  # a first pass on nothing: the engine state row exists
    backend.apply(deployment("web", "t1-apps", 3))
    wait_for(lambda: gated(backend, "t1-apps") == 3, timeout=10)
    before = _written(cluster)
    with connection.cursor() as cursor:
        cursor.execute(FAIL_LAST_WRITE)
    with pytest.raises(DatabaseError, match="No space left"):
        scheduling_cycle(cluster=cluster)
    assert _written(cluster) == before
    assert gated(backend, "t1-apps") == 3

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_snapshot ON scheduling_enginesnapshot")
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 3)
    admitted = SchedulingDecision.objects.filter(action="ADMIT")
    assert admitted.count() == 3 and len(set(admitted.values_list("request", flat=True))) == 3
    assert len(set(admitted.values_list("pass_seq", flat=True))) == 1
    assert Binding.objects.open().count() == 3 and Binding.objects.count() == 3
    assert SchedulingRequest.objects.filter(state="Admitted").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_second_pass_while_one_runs_does_nothing_and_says_so(sandbox_api, operator):
    """Two passes at once on one cluster (a beat tick overlapping a slow one, two workers): the
    second finds the advisory lock taken and returns without observing, deciding or writing."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 16, cpu="250m"))
    wait_for(lambda: gated(backend, "t1-apps") == 16, timeout=10)
    # A slow API server keeps the first pass in its enactment (16 ungates, 8 at a time) for ≥ 2 s.
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 16, "delay": 1.0, "methods": ["PATCH"]})
    first: dict = {}

    def run_first_pass():
        try:
            first.update(scheduling_cycle(cluster=Cluster.objects.get(pk=cluster.pk)))
        finally:
            connection.close()

    thread = threading.Thread(target=run_first_pass)
    thread.start()
    try:
        # Held by the other session, and that pass has committed its decisions: it is enacting.
        wait_for(lambda: _lock_holders(cluster) == 1 and SchedulingDecision.objects.exists(), timeout=20)
        written = _written(cluster)
        second = scheduling_cycle(cluster=cluster)
        assert second == {"skipped": "another pass is running"}
        assert _written(cluster) == written
    finally:
        thread.join(timeout=60)
    assert first["decisions"] == 16 and first["enacted"]["ungated"] == 16
    assert _lock_holders(cluster) == 0
    third = scheduling_cycle(cluster=cluster)
    assert "skipped" not in third and third["decisions"] == 0
    assert SchedulingDecision.objects.filter(action="ADMIT").count() == 16


def _lock_holders(cluster) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
                       " AND objsubid = 2 AND granted", [LOCK_NAMESPACE, cluster.pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_decisions_and_bindings_are_never_updated_or_deleted(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2)
    for model in (SchedulingDecision, Binding):
        row = model.objects.first()
        row.reason = "EDITED"
        for refused in (row.save, row.delete, lambda: model.objects.filter(pk=row.pk).update(reason="EDITED"),
                        lambda: model.objects.filter(pk=row.pk).delete(),
                        lambda: model.objects.bulk_update([row], ["reason"])):
            with pytest.raises(RuntimeError, match="append-only"), transaction.atomic():
                refused()
        assert not model.objects.filter(reason="EDITED").exists()
    assert SchedulingDecision.objects.count() == 2 and Binding.objects.count() == 2


@pytest.mark.django_db
def test_the_databases_own_cascades_still_reach_the_history():
    """A deleted tenant's decisions stay, without their tenant; a deleted cluster takes its history."""
    cluster = Cluster.objects.create(name="gone", api_url="http://127.0.0.1:1")
    tenant = Tenant.objects.add_root(instance=Tenant(parent=None, name="Old", slug="old", full_slug="old"))
    decision = SchedulingDecision.objects.create(cluster=cluster, tenant=tenant, pass_seq=1, config_version=1,
                                                 action="ADMIT", reason="ADMITTED_WITHIN_OWNED", request="old/x")
    Tenant.objects.get(pk=tenant.pk).delete()
    assert SchedulingDecision.objects.get(pk=decision.pk).tenant is None
    cluster.delete()
    assert not SchedulingDecision.objects.filter(pk=decision.pk).exists()


FAIL_ONE_CLUSTER = """
CREATE FUNCTION pg_temp.refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'value too long for type character varying(300) (test)'; END $$;
CREATE TRIGGER refuse_one_cluster BEFORE UPDATE ON scheduling_enginesnapshot
    FOR EACH ROW WHEN (OLD.cluster_id = %s) EXECUTE FUNCTION pg_temp.refuse_one();
"""


@pytest.mark.django_db
def test_one_clusters_failing_pass_does_not_starve_the_other_clusters(sandbox_api, operator):
    """A pass that fails on one cluster's data (here the database refuses its record, as it did for
    an over-long request id) is reported for that cluster; the clusters after it in the tick are
    still scheduled."""
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    broken = Cluster.objects.create(name="a-first-in-the-tick", api_url=sandbox_api.url, is_active=True)
    assert [c.name for c in Cluster.objects.filter(is_active=True)] == [broken.name, cluster.name]
    scheduling_cycle(cluster=broken)  # its engine state row exists; its next passes update it
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ONE_CLUSTER % int(broken.pk))

    summary = scheduling_tick(seconds=0.1, poll=0)

    assert "Error: value too long" in summary[broken.name]["error"], summary[broken.name]
    assert summary[cluster.name]["decisions"] == 2
    wait_for(lambda: running(backend, "t1-apps") == 2, timeout=10)


@pytest.mark.django_db
def test_an_unreachable_cluster_is_tried_again_after_pauses_not_on_every_pass(sandbox_api, operator, monkeypatch,
                                                                             caplog):
    """A hung API server costs a pass its whole timeout: tried on every pass, one such cluster would
    take the tick of every other. It is logged once and tried again after growing pauses."""
    from scheduling import cycle

    monkeypatch.setattr(cycle, "_unreachable", {})
    cluster, backend, _ = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    gone = Cluster.objects.create(name="gone", api_url="http://127.0.0.1:9", is_active=True)  # nothing listens
    backend.apply(deployment("web", "t1-apps", 2))
    wait_for(lambda: gated(backend, "t1-apps") == 2, timeout=10)

    first = scheduling_tick(seconds=0.1, poll=0)
    second = scheduling_tick(seconds=0.1, poll=0)

    assert "error" in first[gone.name] and "skipped" not in first[gone.name]
    assert second[gone.name]["skipped"] == "unreachable: retried after a pause"
    assert first[cluster.name]["decisions"] == 2 and "error" not in second[cluster.name]
    assert sum("gone cannot be reached" in r.getMessage() for r in caplog.records) == 1
