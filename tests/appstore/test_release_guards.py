"""What a release may not do to its namespace, its tenant or its viewers, against the sandbox with real helm.

The "raw" chart renders whatever objects its values list, like many charts' ``extraObjects``:
it stands for any chart a tenant can upload or pick from a repository.
"""

from __future__ import annotations

import json
import time

import pytest

from appstore.models import Release
from appstore.releases import render
from appstore.services import release_recovery, releases, review
from backends.errors import BackendPermanentError, BackendTransientError
from backends.kubernetes import KubernetesBackend
from bluedock_portal.errors import ServiceError
from tenants.models import ClusterNode, Operation, Tenant
from tenants.services import clusters
from tenants.services.provisioning import namespace_reconcile

from .charts import chart_files, tgz
from .releases_support import publish

pytestmark = pytest.mark.django_db

RAW = """{{- range .Values.objects }}
---
{{ toYaml . }}
{{- end }}
"""
RBAC = "rbac.authorization.k8s.io/v1"


def raw_chart(version="1.0.0"):
    files = {"Chart.yaml": f"apiVersion: v2\nname: raw\nversion: {version}\ntype: application\n".encode(),
             "values.yaml": b"objects: []\n", "templates/raw.yaml": RAW.encode()}
    return tgz(files, top="raw")


@pytest.fixture
def raw(operator):
    return publish(raw_chart(), actor=operator)


def workload(name, replicas, resources, kind="Deployment", api_version="apps/v1"):
    selector = {"app": name} if kind == "ReplicationController" else {"matchLabels": {"app": name}}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}]}}}}


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


def install(api, user, namespace, version, name, objects):
    return api(user).post("/api/v1/releases/", {"namespace": namespace.pk, "name": name, "app_version": version.pk,
                                               "values": {"objects": objects}}, format="json")


def run(operation):
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    return operation


# --- 1. objects the release does not own --------------------------------------------------
def test_a_chart_cannot_render_the_namespace_quota_nor_other_portal_objects(api, bob, team_ns, raw):
    backend = clusters.cluster_backend(team_ns.cluster)
    namespace_reconcile(namespace=team_ns)
    before = backend.get("v1", "ResourceQuota", "bluedock-quota", "team-a")["spec"]
    for manifest, code in [
        ({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "bluedock-quota"},
          "spec": {"hard": {"requests.cpu": "100000"}}}, "reserved_kind"),
        ({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bluedock-defaults"}, "spec": {}},
         "reserved_kind"),
        ({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "bluedock-default-deny-ingress"}, "spec": {"podSelector": {}}}, "reserved_name"),
    ]:
        response = install(api, bob, team_ns, raw, "q", [configmap("q-settings"), manifest])
        assert response.status_code == 400 and response.json()["code"] == code, response.json()
        assert manifest["metadata"]["name"] in response.json()["detail"]
    assert backend.get("v1", "ResourceQuota", "bluedock-quota", "team-a")["spec"] == before
    assert backend.get("v1", "ConfigMap", "q-settings", "team-a") is None
    assert not Release.objects.filter(name="q").exists()


def test_a_release_cannot_take_over_another_releases_object_nor_delete_it(bob, team_ns, shop, raw):
    backend = clusters.cluster_backend(team_ns.cluster)
    a, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop", app_version=shop["1.0.0"],
                                            values={"replicas": 1})
    assert run(operation).state == Operation.State.SUCCEEDED
    theirs = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop-web"},
              "spec": {"selector": {"app": "evil"}, "ports": [{"port": 80}]}}
    b, operation = releases.release_install(actor=bob, namespace=team_ns, name="b", app_version=raw,
                                            values={"objects": [configmap("b-first"), theirs]})
    run(operation)
    assert operation.state == Operation.State.FAILED and operation.error_code == "object_not_owned"
    assert "Service 'shop-web'" in operation.error_message and f"release {a.pk}" in operation.error_message
    assert backend.get("v1", "ConfigMap", "b-first", "team-a") is None  # nothing applied, not even what sorts first
    service = backend.get("v1", "Service", "shop-web", "team-a")
    assert service["spec"]["selector"] == {"app": "shop"}
    assert service["metadata"]["labels"][render.RELEASE_LABEL] == str(a.pk)
    b.refresh_from_db()
    assert b.status == "failed" and b.locked_by_id is None
    assert run(releases.release_uninstall(actor=bob, release=b)).state == Operation.State.SUCCEEDED
    assert backend.get("v1", "Service", "shop-web", "team-a") is not None


def test_an_object_made_outside_the_portal_is_not_taken_over(bob, team_ns, raw):
    backend = clusters.cluster_backend(team_ns.cluster)
    backend.apply({**configmap("handmade"), "metadata": {"name": "handmade", "namespace": "team-a"}})
    _, operation = releases.release_install(actor=bob, namespace=team_ns, name="c", app_version=raw,
                                            values={"objects": [{**configmap("handmade"), "data": {"x": "y"}}]})
    assert run(operation).error_code == "object_not_owned"
    assert "no release" in operation.error_message
    assert backend.get("v1", "ConfigMap", "handmade", "team-a")["data"] == {"a": "b"}


def test_a_release_converges_over_its_own_objects(bob, team_ns, raw):
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="own", app_version=raw,
                                                  values={"objects": [configmap("own-settings")]})
    assert run(operation).state == Operation.State.SUCCEEDED
    operation = releases.release_upgrade(actor=bob, release=release,
                                         values={"objects": [{**configmap("own-settings"), "data": {"c": "d"}}]})
    assert run(operation).state == Operation.State.SUCCEEDED
    backend = clusters.cluster_backend(team_ns.cluster)
    assert backend.get("v1", "ConfigMap", "own-settings", "team-a")["data"] == {"c": "d"}


def test_members_cannot_install_rbac_and_nobody_can_bind_cluster_admin(api, alice, bob, team_ns, raw):
    def rolebinding(role):
        return {"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": f"to-{role}"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}

    for user in (bob, alice):
        response = install(api, user, team_ns, raw, "rb", [rolebinding("cluster-admin")])
        assert response.status_code == 400 and response.json()["code"] == "rbac_escalation"
    response = install(api, bob, team_ns, raw, "rb", [rolebinding("view")])
    assert response.status_code == 403 and response.json()["code"] == "rbac_requires_tenant_admin"
    assert "RoleBinding/to-view" in response.json()["detail"]
    response = install(api, alice, team_ns, raw, "rb", [rolebinding("edit")])
    assert response.status_code == 202
    release = Release.objects.get(name="rb")
    assert run(Operation.objects.get(pk=response.json()["id"])).state == Operation.State.SUCCEEDED
    live = clusters.cluster_backend(team_ns.cluster).get(RBAC, "RoleBinding", "to-edit", "team-a")
    assert live["roleRef"]["name"] == "edit"
    # A member may change the admin's release where its RBAC objects stay as they run...
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"level": "debug"}}
    operation = releases.release_upgrade(actor=bob, release=release, values={"objects": [rolebinding("edit"), config]})
    assert run(operation).state == Operation.State.SUCCEEDED
    # ... but not change them, nor roll back to a revision whose RBAC differs from what runs.
    with pytest.raises(ServiceError) as err:
        releases.release_upgrade(actor=bob, release=release, values={"objects": [rolebinding("view")]})
    assert err.value.code == "rbac_requires_tenant_admin"
    operation = releases.release_upgrade(actor=alice, release=release, values={"objects": [rolebinding("view")]})
    assert run(operation).state == Operation.State.SUCCEEDED
    with pytest.raises(ServiceError) as err:
        releases.release_rollback(actor=bob, release=release, revision=1)
    assert err.value.code == "rbac_requires_tenant_admin"


# --- 2. cluster scope by discovery -----------------------------------------------------------
CLUSTER_ISSUER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterissuers.cert-manager.io"},
    "spec": {"group": "cert-manager.io", "scope": "Cluster",
             "names": {"kind": "ClusterIssuer", "plural": "clusterissuers", "singular": "clusterissuer"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_a_cluster_scoped_custom_resource_is_refused_before_anything_is_applied(bob, team_ns, raw):
    backend = clusters.cluster_backend(team_ns.cluster)
    backend.apply(CLUSTER_ISSUER_CRD)
    time.sleep(0.3)
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "letsencrypt-prod"},
              "spec": {"acme": {"server": "https://evil.example/dir"}}}
    _, operation = releases.release_install(actor=bob, namespace=team_ns, name="ci", app_version=raw,
                                            values={"objects": [configmap("ci-first"), issuer]})
    run(operation)
    assert operation.state == Operation.State.FAILED and operation.error_code == "cluster_scoped_object"
    assert "ClusterIssuer 'letsencrypt-prod'" in operation.error_message
    fresh = clusters.cluster_backend(team_ns.cluster)
    assert fresh.get("cert-manager.io/v1", "ClusterIssuer", "letsencrypt-prod") is None
    assert fresh.get("v1", "ConfigMap", "ci-first", "team-a") is None


def test_the_sandbox_reports_scope_by_discovery_as_a_cluster_does(team_ns):
    backend = clusters.cluster_backend(team_ns.cluster)
    widget = json.loads(json.dumps(CLUSTER_ISSUER_CRD).replace("clusterissuers", "widgets").replace(
        "clusterissuer", "widget").replace("ClusterIssuer", "Widget").replace("cert-manager.io", "example.com"))
    widget["spec"]["scope"] = "Namespaced"
    backend.apply(CLUSTER_ISSUER_CRD)
    backend.apply(widget)
    time.sleep(0.3)
    backend = clusters.cluster_backend(team_ns.cluster)
    assert backend.namespaced("v1", "ConfigMap") and backend.namespaced("apps/v1", "Deployment")
    assert not backend.namespaced("v1", "Namespace") and not backend.namespaced(RBAC, "ClusterRole")
    assert not backend.namespaced("cert-manager.io/v1", "ClusterIssuer")
    assert backend.namespaced("example.com/v1", "Widget")


def _namespaced_crd(kind: str, group: str) -> dict:
    """CLUSTER_ISSUER_CRD's shape, namespaced, for ``kind`` in ``group`` (plural: lower case + s)."""
    crd = json.loads(json.dumps(CLUSTER_ISSUER_CRD).replace("clusterissuers", f"{kind.lower()}s").replace(
        "clusterissuer", kind.lower()).replace("ClusterIssuer", kind).replace("cert-manager.io", group))
    crd["spec"]["scope"] = "Namespaced"
    return crd


def test_a_release_still_upgrades_once_the_cluster_no_longer_serves_a_kind_it_held(bob, team_ns, raw):
    """An API removed by a cluster upgrade (a CRD deleted, policy/v1beta1 at 1.25): nothing of it is
    left to prune, and the release's later operations must not fail on it for ever."""
    backend = clusters.cluster_backend(team_ns.cluster)
    backend.apply(_namespaced_crd("Gadget", "example.org"))
    time.sleep(0.3)
    one = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {}}
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="gd", app_version=raw,
                                                  values={"objects": [configmap("gd-a"), one]})
    assert run(operation).state == Operation.State.SUCCEEDED
    backend.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "gadgets.example.org")
    time.sleep(0.3)
    operation = releases.release_upgrade(actor=bob, release=release, values={"objects": [configmap("gd-b")]})
    assert run(operation).state == Operation.State.SUCCEEDED, operation.error_message
    fresh = clusters.cluster_backend(team_ns.cluster)
    assert fresh.get("v1", "ConfigMap", "gd-b", "team-a") is not None
    assert fresh.get("v1", "ConfigMap", "gd-a", "team-a") is None


def test_objects_of_a_retired_api_version_are_still_pruned_through_the_version_served(bob, team_ns, raw):
    """batch/v1beta1 CronJobs at 1.25: the objects live on at the version still served, and an
    uninstall that skipped them would leave them running."""
    backend = clusters.cluster_backend(team_ns.cluster)
    crd = _namespaced_crd("Gizmo", "example.net")
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [v1, {**v1, "name": "v2", "storage": False}]
    backend.apply(crd)
    time.sleep(0.3)
    gizmo = {"apiVersion": "example.net/v1", "kind": "Gizmo", "metadata": {"name": "z"}, "spec": {}}
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="gz", app_version=raw,
                                                  values={"objects": [configmap("gz-a"), gizmo]})
    assert run(operation).state == Operation.State.SUCCEEDED
    crd["spec"]["versions"] = [{**v1, "served": False}, {**v1, "name": "v2", "storage": False}]
    backend.apply(crd)
    time.sleep(0.3)
    with pytest.raises(BackendPermanentError) as retired:
        clusters.cluster_backend(team_ns.cluster).list("example.net/v1", "Gizmo", namespace="team-a")
    assert retired.value.status == 404
    operation = releases.release_uninstall(actor=bob, release=release)
    assert run(operation).state == Operation.State.SUCCEEDED, operation.error_message
    fresh = clusters.cluster_backend(team_ns.cluster)
    assert fresh.get("example.net/v2", "Gizmo", "z", "team-a") is None


# --- 3 and 4. pods: gated and counted -------------------------------------------------------
def test_a_replication_controller_is_counted_against_the_quota_and_gated(api, bob, team_ns, raw):
    rc = workload("rc", 20, {"requests": {"cpu": "2"}}, kind="ReplicationController", api_version="v1")
    response = install(api, bob, team_ns, raw, "rc", [rc])  # 40 cpu for a tenant with 32
    assert response.status_code == 409 and response.json()["code"] == "quota_exceeded"
    response = install(api, bob, team_ns, raw, "rc", [{**rc, "spec": {**rc["spec"], "replicas": 2}}])
    assert response.status_code == 202
    [prepared] = render.split(Release.objects.get(name="rc").revisions.get().manifest)
    assert prepared["spec"]["template"]["spec"]["schedulingGates"] == [{"name": render.ADMISSION_GATE}]


def test_an_unknown_pod_carrier_is_refused(api, bob, team_ns, raw):
    rollout = workload("ro", 5, {}, kind="Rollout", api_version="argoproj.io/v1alpha1")
    response = install(api, bob, team_ns, raw, "ro", [rollout])
    assert response.status_code == 400 and response.json()["code"] == "unsupported_workload"


@pytest.mark.parametrize(("replicas", "resources"), [
    (20, {"limits": {"cpu": "2", "memory": "1Gi"}}),  # requests default to limits: 40 cpu
    (400, {}),  # the namespace LimitRange gives each 100m: 40 cpu
])
def test_limits_only_and_defaulted_containers_count_against_the_quota(api, bob, team_ns, raw, replicas, resources):
    response = install(api, bob, team_ns, raw, "big", [workload("big", replicas, resources)])
    assert response.status_code == 409 and response.json()["code"] == "quota_exceeded", response.json()
    assert response.json()["resource"] == "cpu" and response.json()["requested"] == 40000


def test_a_daemonset_counts_a_pod_per_node_of_the_cluster(api, bob, team_ns, raw):
    ClusterNode.objects.bulk_create(ClusterNode(cluster=team_ns.cluster, name=f"n{i}", labels={"pool": "web"})
                                    for i in range(40))
    daemonset = workload("agent", 1, {"requests": {"cpu": "1"}}, kind="DaemonSet")
    del daemonset["spec"]["replicas"]
    response = install(api, bob, team_ns, raw, "agent", [daemonset])  # 40 nodes x 1 cpu, for a tenant with 32
    assert response.status_code == 409 and response.json()["requested"] == 40000


def test_negative_replicas_cannot_offset_other_objects(api, bob, team_ns, raw):
    objects = [workload("a-big", 40, {"requests": {"cpu": "1"}}), workload("z-neg", -40, {"requests": {"cpu": "1"}})]
    response = install(api, bob, team_ns, raw, "neg", objects)
    assert response.status_code == 400 and response.json()["code"] == "invalid_replicas"
    assert "z-neg" in response.json()["detail"]


# --- 5. retry -------------------------------------------------------------------------------
def test_a_retry_is_quota_checked_like_the_install(bob, team_ns, raw, monkeypatch):
    x, operation = releases.release_install(actor=bob, namespace=team_ns, name="x", app_version=raw,
                                            values={"objects": [workload("x", 30, {"requests": {"cpu": "1"}})]})

    def unreachable(self, manifest):
        raise BackendTransientError("unreachable", system="kubernetes")

    with monkeypatch.context() as patch:
        patch.setattr(KubernetesBackend, "apply", unreachable)
        releases.release_apply_run(operation_id=operation.pk, final_attempt=True)
    x.refresh_from_db()
    assert x.status == "failed"
    _, operation = releases.release_install(actor=bob, namespace=team_ns, name="yy", app_version=raw,
                                            values={"objects": [workload("yy", 30, {"requests": {"cpu": "1"}})]})
    assert run(operation).state == Operation.State.SUCCEEDED
    with pytest.raises(ServiceError) as err:
        release_recovery.release_retry(actor=bob, release=x)
    assert err.value.code == "quota_exceeded"
    x.refresh_from_db()
    assert (x.status, x.locked_by_id) == ("failed", None)
    backend = clusters.cluster_backend(team_ns.cluster)
    assert backend.get("apps/v1", "Deployment", "x", "team-a") is None


def test_a_member_cannot_retry_a_tenant_admins_failed_rbac_release(alice, bob, team_ns, raw, monkeypatch):
    binding = {"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "viewers"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"}]}
    release, operation = releases.release_install(actor=alice, namespace=team_ns, name="rb", app_version=raw,
                                                  values={"objects": [binding]})

    def unreachable(self, manifest):
        raise BackendTransientError("unreachable", system="kubernetes")

    with monkeypatch.context() as patch:
        patch.setattr(KubernetesBackend, "apply", unreachable)
        releases.release_apply_run(operation_id=operation.pk, final_attempt=True)
    with pytest.raises(ServiceError) as err:
        release_recovery.release_retry(actor=bob, release=release)
    assert err.value.code == "rbac_requires_tenant_admin"
    assert run(release_recovery.release_retry(actor=alice, release=release)).state == Operation.State.SUCCEEDED


# --- 6. suspended apps and tenants --------------------------------------------------------
def test_a_suspended_app_cannot_be_installed(api, bob, team_ns, raw, operator):
    review.app_set_state(app=raw.app, actor=operator, state="suspended")
    response = install(api, bob, team_ns, raw, "sus", [])
    assert response.status_code == 409 and response.json()["code"] == "app_suspended"


def test_nothing_new_starts_below_a_suspended_ancestor(api, alice, bob, team_ns, raw, tree, upload):
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="s1", app_version=raw,
                                                  values={"objects": [configmap("s1-settings")]})
    run(operation)
    Tenant.objects.filter(pk=tree["org"].pk).update(state=Tenant.State.SUSPENDED)
    response = install(api, bob, team_ns, raw, "s2", [])
    assert response.status_code == 409 and response.json()["code"] == "tenant_suspended"
    response = api(bob).post(f"/api/v1/releases/{release.pk}/upgrade/", {"values": {"objects": []}}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "tenant_suspended"
    response = upload(alice, tree["a"], tgz(chart_files("fresh", "1.0.0"), top="fresh"))
    assert response.status_code == 409 and response.json()["code"] == "tenant_suspended"
    Release.objects.filter(pk=release.pk).update(status="failed")
    with pytest.raises(ServiceError) as err:
        release_recovery.release_retry(actor=bob, release=release)
    assert err.value.code == "tenant_suspended"


# --- 7. viewers do not read secrets -----------------------------------------------------------
def test_viewers_read_neither_secret_data_nor_values(api, client, vera, bob, team_ns, raw):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "stringData": {"password": "s3cr3t-db-pass"}}
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="sec", app_version=raw,
                                                  values={"objects": [secret]})
    run(operation)
    for path in (f"/api/v1/releases/{release.pk}/revisions/", f"/api/v1/releases/{release.pk}/",
                 "/api/v1/releases/", f"/api/v1/releases/{release.pk}/diff/?revision=1", "/api/v1/audit-events/"):
        response = api(vera).get(path)
        assert response.status_code == 200 and "s3cr3t-db-pass" not in json.dumps(response.json()), path
    [revision] = api(vera).get(f"/api/v1/releases/{release.pk}/revisions/").json()
    assert "password: <redacted>" in revision["manifest"] and "kind: Secret" in revision["manifest"]
    assert "s3cr3t-db-pass" in json.dumps(api(bob).get(f"/api/v1/releases/{release.pk}/revisions/").json())
    client.force_login(vera)
    for path in (f"/store/releases/{release.pk}/", f"/store/releases/{release.pk}/diff/?revision=1"):
        page = client.get(path)
        assert page.status_code == 200 and b"s3cr3t-db-pass" not in page.content, path


# --- 8. bad input is a 400 with a code ------------------------------------------------------
@pytest.mark.parametrize("cpu", ["lots", "NaN", "Infinity", "1e1000000"])
def test_a_bad_quantity_is_invalid_quantity(api, bob, team_ns, raw, cpu):
    response = install(api, bob, team_ns, raw, "bad", [workload("x", 1, {"requests": {"cpu": cpu}})])
    assert response.status_code == 400 and response.json()["code"] == "invalid_quantity"
    assert not Release.objects.filter(name="bad").exists()


def test_a_spec_that_is_not_a_mapping_is_invalid_object(api, bob, team_ns, raw):
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": "oops"}
    response = install(api, bob, team_ns, raw, "bad", [broken])
    assert response.status_code == 400 and response.json()["code"] == "invalid_object"


@pytest.mark.parametrize("text", ["objects: []\n1: x\n", "when: 2024-01-01\n", "x: .nan\n"])
def test_the_install_page_explains_values_yaml_json_cannot_hold(client, bob, team_ns, raw, text):
    client.force_login(bob)
    response = client.post(f"/store/apps/{raw.app_id}/install/",
                           {"version": raw.version, "namespace": team_ns.pk, "name": "p", "values_yaml": text})
    assert response.status_code == 400 and b"plain JSON data" in response.content
    assert not Release.objects.filter(name="p").exists()


def test_the_service_refuses_values_json_cannot_hold(bob, team_ns, raw):
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="p", app_version=raw,
                                 values={"objects": [], 1: "x"})
    assert err.value.code == "values_invalid"


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"replicas": {"$ref": "#/definitions/nope"}}},
    {"type": "object", "properties": {"unused": {"$ref": "#/definitions/nope"}}},  # not reached by the defaults
    {"$ref": "#"},
])
def test_a_schema_that_cannot_validate_is_refused_at_upload(alice, tree, upload, schema):
    files = chart_files("refs", "1.0.0", schema=None)
    files["values.schema.json"] = json.dumps(schema).encode()
    response = upload(alice, tree["a"], tgz(files, top="refs"))
    assert response.status_code == 400 and response.json()["code"] == "chart_schema_invalid", response.json()
