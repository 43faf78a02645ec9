"""Install → upgrade → rollback → uninstall against the sandbox Kubernetes API, with real helm.

The runner is called directly (``release_apply_run``), as a Celery worker would.
"""

from __future__ import annotations

import pytest

from appstore.models import Release, ReleaseRevision
from appstore.releases import render
from appstore.services import release_recovery, releases
from bluedock_portal.errors import ServiceError
from tenants.models import AuditEvent, Operation
from tenants.services import clusters
from tests.servers.sandbox import wait_for

from .charts import valid_chart
from .releases_support import objects_of, publish

pytestmark = pytest.mark.django_db


def run(operation, **kwargs):
    result = releases.release_apply_run(operation_id=operation.pk, **kwargs)
    operation.refresh_from_db()
    return result


def test_install_upgrade_rollback_uninstall_leave_exactly_the_expected_objects(team_ns, shop, bob, alice):
    backend = clusters.cluster_backend(team_ns.cluster)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"], values={"replicas": 2})
    assert release.status == "pending-install" and release.locked_by_id == operation.pk
    assert objects_of(backend, release) == set()  # nothing before the worker runs
    result = run(operation)
    assert operation.state == Operation.State.SUCCEEDED and operation.progress == 100
    assert result["applied"] == ["Deployment/shop-web", "Service/shop-web"] and result["pruned"] == []
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("Service", "shop-web")}
    release.refresh_from_db()
    assert (release.status, release.current_revision, release.locked_by_id) == ("deployed", 1, None)

    # Pods of the release wait at the admission gate and carry the tenant's labels.
    selector = f"{render.RELEASE_LABEL}={release.pk}"
    pods = wait_for(lambda: len(backend.list_pods("team-a", label_selector=selector)) == 2
                    and backend.list_pods("team-a", label_selector=selector))
    for pod in pods:
        assert pod.scheduling_gates == ("bluedock.io/admission",) and pod.node_name == ""
        assert pod.labels[render.TENANT_LABEL] == str(team_ns.tenant_id)
        assert pod.labels["app.kubernetes.io/instance"] == "shop"
        assert pod.labels[render.MANAGED_BY_LABEL] == "release"

    # Upgrade to 2.0.0: the Service goes, a ConfigMap comes, replicas change.
    diff = releases.release_diff(release=release, app_version=shop["2.0.0"], values={"replicas": 3})
    assert diff["values"] == [{"path": "/replicas", "op": "changed", "from": 2, "to": 3}]
    assert "-kind: Service" in diff["manifest"] and "+kind: ConfigMap" in diff["manifest"]
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("Service", "shop-web")}  # no side effect
    result = run(releases.release_upgrade(actor=bob, release=release, app_version=shop["2.0.0"],
                                          values={"replicas": 3}))
    assert result["pruned"] == ["Service/shop-web"]
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("ConfigMap", "shop-settings")}
    assert backend.get("apps/v1", "Deployment", "shop-web", "team-a")["spec"]["replicas"] == 3
    release.refresh_from_db()
    assert (release.current_version, release.current_revision, release.user_values) == (shop["2.0.0"], 2,
                                                                                       {"replicas": 3})

    # Rollback to 1: a new revision 3, described as Helm does.
    diff = releases.release_diff(release=release, revision=1)
    assert diff["values"] == [{"path": "/replicas", "op": "changed", "from": 3, "to": 2}]
    result = run(releases.release_rollback(actor=bob, release=release, revision=1))
    assert result["pruned"] == ["ConfigMap/shop-settings"]
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("Service", "shop-web")}
    release.refresh_from_db()
    assert (release.current_version, release.current_revision, release.status) == (shop["1.0.0"], 3, "deployed")
    history = list(ReleaseRevision.objects.filter(release=release).order_by("revision")
                   .values_list("revision", "kind", "status", "description"))
    assert history == [(1, "install", "superseded", "Install complete"),
                       (2, "upgrade", "superseded", "Upgrade to 2.0.0 complete"),
                       (3, "rollback", "deployed", "Rolled back to 1")]
    assert release.revisions.get(revision=3).manifest == release.revisions.get(revision=1).manifest

    # Uninstall: nothing with the release label is left, and the history stays.
    run(releases.release_uninstall(actor=bob, release=release))
    assert objects_of(backend, release) == set()
    wait_for(lambda: backend.list_pods("team-a", label_selector=selector) == [])
    release.refresh_from_db()
    assert release.status == "uninstalled" and release.revisions.count() == 4
    assert list(AuditEvent.objects.filter(target_type="appstore.release").values_list("action", flat=True)
                .order_by("id")) == ["appstore.release_install", "appstore.release_upgrade",
                                     "appstore.release_rollback", "appstore.release_uninstall"]
    with pytest.raises(ServiceError) as err:
        releases.release_upgrade(actor=bob, release=release)
    assert err.value.code == "release_uninstalled"


def test_a_failed_apply_marks_the_release_failed_and_a_retry_converges(team_ns, shop, bob, sandbox_api):
    backend = clusters.cluster_backend(team_ns.cluster)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"])
    run(operation)
    upgrade = releases.release_upgrade(actor=bob, release=release, app_version=shop["2.0.0"])
    # The applies succeed, then every delete fails for longer than the worker retries: the prune is cut off.
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 50, "status": 500, "methods": ["DELETE"]})
    try:
        run(upgrade, final_attempt=True)
    finally:
        sandbox_api.admin("DELETE", "/sandbox/faults")
    assert upgrade.state == Operation.State.FAILED and upgrade.error_code == "kubernetes_unavailable"
    release.refresh_from_db()
    assert (release.status, release.locked_by_id, release.current_revision) == ("failed", None, 1)
    assert release.revisions.get(revision=2).status == "failed"
    # Half-done: the ConfigMap is there, the Service not yet pruned.
    assert objects_of(backend, release) == {("ConfigMap", "shop-settings"), ("Deployment", "shop-web"),
                                            ("Service", "shop-web")}

    retry = release_recovery.release_retry(actor=bob, release=release)
    run(retry)
    assert retry.state == Operation.State.SUCCEEDED
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("ConfigMap", "shop-settings")}
    release.refresh_from_db()
    assert (release.status, release.current_revision, release.revisions.count()) == ("deployed", 2, 2)


def test_a_transient_failure_hands_the_operation_back_and_running_it_again_converges(team_ns, shop, bob,
                                                                                    sandbox_api):
    backend = clusters.cluster_backend(team_ns.cluster)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"])
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 1, "status": 500})
    with pytest.raises(Exception, match="500"):
        run(operation)
    assert operation.state == Operation.State.QUEUED
    release.refresh_from_db()
    assert release.status == "pending-install" and release.locked_by_id == operation.pk
    run(operation)
    assert operation.state == Operation.State.SUCCEEDED
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("Service", "shop-web")}
    assert run(operation) is None  # a duplicate delivery finds nothing to do


def test_a_second_operation_while_one_is_in_flight_is_refused(team_ns, shop, bob):
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"])
    with pytest.raises(ServiceError) as err:
        releases.release_upgrade(actor=bob, release=Release.objects.get(pk=release.pk), values={"replicas": 2})
    assert (err.value.code, err.value.status, err.value.extra["operation"]) == ("release_locked", 409, operation.pk)


def test_quota_exceeded_blocks_before_anything_is_created(team_ns, shop, bob, tree):
    backend = clusters.cluster_backend(team_ns.cluster)
    with pytest.raises(ServiceError) as err:  # 20 × 2 cpu = 40000m > a's limit 32000m
        releases.release_install(actor=bob, namespace=team_ns, name="big", app_version=shop["1.0.0"],
                                 values={"replicas": 20, "cpu": "2"})
    assert err.value.code == "quota_exceeded" and err.value.status == 409
    facts = err.value.extra
    assert (facts["tenant"], facts["tenant_path"], facts["resource"], facts["requested"], facts["used"],
            facts["limit"]) == (tree["a"].pk, "org/a", "cpu", 40000, 0, 32000)
    assert not Release.objects.exists() and not Operation.objects.exists()
    assert backend.list("apps/v1", "Deployment", namespace="team-a") == []


def test_values_against_the_schema_are_refused_with_json_pointers(team_ns, shop, bob):
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="shop", app_version=shop["1.0.0"],
                                 values={"replicas": -1})
    assert err.value.code == "schema_invalid"
    assert [e["path"] for e in err.value.extra["errors"]] == ["/replicas"]
    assert not Release.objects.exists()


def test_a_chart_with_cluster_scoped_objects_is_a_policy_violation(team_ns, bob, operator):
    role = (b"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ .Release.Name }}\n"
            b"rules: []\n")
    version = publish(valid_chart("wide", extra={"templates/role.yaml": role}), actor=operator)
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="wide", app_version=version)
    assert (err.value.code, err.value.status, err.value.extra["kind"]) == ("policy_violation", 403, "ClusterRole")
    assert not Release.objects.exists()
