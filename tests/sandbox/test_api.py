"""The sandbox answers the official client like a Kubernetes API server: CRUD, selectors,
optimistic concurrency, patches, server-side apply, watches, fault injection."""

import json
import threading
import time

import pytest
from kubernetes import client, watch

from tests.servers.sandbox import wait_for


def test_discovery_reports_version_and_resources(k8s):
    assert client.VersionApi(k8s.raw).get_code().git_version.startswith("v1.")
    core = client.CoreApi(k8s.raw).get_api_versions()
    assert core.versions == ["v1"]
    groups = {g.name for g in client.ApisApi(k8s.raw).get_api_versions().groups}
    assert {"apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io"} <= groups
    pods = next(r for r in client.CoreV1Api(k8s.raw).get_api_resources().resources if r.name == "pods")
    assert pods.short_names == ["po"] and pods.namespaced and "watch" in pods.verbs


def test_namespaces_are_created_listed_by_label_and_deleted(k8s):
    k8s.core.create_namespace({"metadata": {"name": "blue", "labels": {"tenant": "a"}}})
    k8s.core.create_namespace({"metadata": {"name": "green", "labels": {"tenant": "b"}}})
    names = lambda sel: sorted(n.metadata.name for n in k8s.core.list_namespace(label_selector=sel).items)  # noqa: E731
    assert names("tenant=a") == ["blue"]
    assert names("tenant in (a,b)") == ["blue", "green"]
    assert names("tenant,tenant!=a") == ["green"]
    assert k8s.core.read_namespace("blue").status.phase == "Active"
    k8s.core.delete_namespace("blue")
    wait_for(lambda: "blue" not in names(""))


def test_deleting_a_namespace_removes_its_objects(k8s, namespace):
    k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    k8s.core.delete_namespace(namespace)
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "late"}})
    assert exc.value.status in (403, 404)  # 403 while terminating, 404 once gone — as in Kubernetes
    wait_for(lambda: not k8s.core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={namespace}")
             .items)


def test_missing_and_duplicate_objects_get_kubernetes_messages(k8s, namespace):
    with pytest.raises(client.ApiException) as exc:
        k8s.core.read_namespaced_pod("ghost", namespace)
    assert exc.value.status == 404 and json.loads(exc.value.body)["message"] == 'pods "ghost" not found'
    k8s.core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
    assert exc.value.status == 409 and exc.value.reason == "Conflict"
    assert json.loads(exc.value.body)["reason"] == "AlreadyExists"


def test_stale_resource_version_is_a_409_conflict(k8s, namespace):
    cm = k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"v": "1"}})
    fresh = k8s.core.read_namespaced_config_map("c", namespace)
    fresh.data = {"v": "2"}
    k8s.core.replace_namespaced_config_map("c", namespace, fresh)
    cm.data = {"v": "stale"}
    with pytest.raises(client.ApiException) as exc:
        k8s.core.replace_namespaced_config_map("c", namespace, cm)
    body = json.loads(exc.value.body)
    assert exc.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on configmaps "c": the object has been modified; please '
                               "apply your changes to the latest version and try again")


def test_merge_patch_adds_and_removes_keys(k8s, namespace):
    k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})
    patched = k8s.core.patch_namespaced_config_map("c", namespace, {"data": {"b": None, "c": "3"}},
                                                   _content_type="application/merge-patch+json")
    assert patched.data == {"a": "1", "c": "3"}


def test_strategic_merge_patch_merges_containers_by_name(k8s, namespace):
    from tests.sandbox.conftest import deployment_manifest

    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}
    d = k8s.apps.patch_namespaced_deployment("web", namespace, patch)
    (container,) = d.spec.template.spec.containers
    assert container.image == "nginx:1.28" and container.resources.requests == {"cpu": "100m"}
    assert d.metadata.generation == 2


def test_server_side_apply_creates_updates_and_drops_fields(k8s, namespace):
    def apply(data, manager="portal", force=False):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "labels": {"app": "x"}},
                "data": data}
        return k8s.core.patch_namespaced_config_map("app", namespace, body, field_manager=manager, force=force,
                                                    _content_type="application/apply-patch+yaml")

    assert apply({"a": "1", "b": "2"}).data == {"a": "1", "b": "2"}
    updated = apply({"a": "10"})
    assert updated.data == {"a": "10"}  # "b" was applied before by the same manager and is dropped now
    assert [(m.manager, m.operation) for m in updated.metadata.managed_fields] == [("portal", "Apply")]
    with pytest.raises(client.ApiException) as exc:
        apply({"a": "other"}, manager="someone-else")
    assert exc.value.status == 409
    assert 'conflict with "portal"' in json.loads(exc.value.body)["message"]
    assert apply({"a": "other"}, manager="someone-else", force=True).data == {"a": "other"}


def test_watch_delivers_added_modified_deleted(k8s, namespace):
    start = k8s.core.list_namespaced_config_map(namespace).metadata.resource_version

    def changes():
        k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "w", "labels": {"x": "1"}}})
        k8s.core.patch_namespaced_config_map("w", namespace, {"data": {"k": "v"}})
        k8s.core.delete_namespaced_config_map("w", namespace)

    threading.Timer(0.1, changes).start()
    seen = []
    for event in watch.Watch().stream(k8s.core.list_namespaced_config_map, namespace, resource_version=start,
                                      label_selector="x=1", timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_fault_injection_fails_the_next_requests(sandbox_api, k8s):
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 2, "status": 500, "methods": ["GET"]})
    for _ in range(2):
        with pytest.raises(client.ApiException) as exc:
            k8s.core.read_namespace("default")
        assert exc.value.status == 500
    assert k8s.core.read_namespace("default").metadata.name == "default"
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 1, "status": 409})
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespace({"metadata": {"name": "x"}})
    assert exc.value.status == 409


def test_a_delay_fault_slows_the_next_requests_and_serves_them(sandbox_api, k8s):
    sandbox_api.admin("POST", "/sandbox/faults", {"count": 2, "delay": 0.3, "methods": ["GET"]})
    for _ in range(2):
        began = time.monotonic()
        assert k8s.core.read_namespace("default").metadata.name == "default"
        assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    k8s.core.read_namespace("default")
    assert time.monotonic() - began < 0.3


def test_dry_run_validates_without_storing(k8s, namespace):
    made = k8s.core.create_namespaced_config_map(namespace, {"metadata": {"name": "dry"}}, dry_run="All")
    assert made.metadata.name == "dry"
    assert "dry" not in {c.metadata.name for c in k8s.core.list_namespaced_config_map(namespace).items}


def test_pod_spec_is_immutable_except_images_and_gate_removal(k8s, namespace):
    from tests.sandbox.conftest import pod_manifest

    k8s.core.create_namespaced_pod(namespace, pod_manifest("p", gates=["g"]))
    with pytest.raises(client.ApiException) as exc:
        k8s.core.patch_namespaced_pod("p", namespace, {"spec": {"restartPolicy": "Never"}})
    assert exc.value.status == 422 and "pod updates may not change fields" in json.loads(exc.value.body)["message"]
    patched = k8s.core.patch_namespaced_pod("p", namespace, {"spec": {"containers": [{"name": "app",
                                                                                      "image": "nginx:1.28"}]}})
    assert patched.spec.containers[0].image == "nginx:1.28"
    with pytest.raises(client.ApiException) as exc:
        k8s.core.patch_namespaced_pod("p", namespace, {"spec": {"schedulingGates": [{"name": "g"}, {"name": "new"}]}},
                                      _content_type="application/merge-patch+json")
    assert "only deletion is allowed, but found new scheduling gate 'new'" in json.loads(exc.value.body)["message"]


def test_lists_paginate_with_limit_and_continue(k8s, namespace):
    for i in range(5):
        k8s.core.create_namespaced_secret(namespace, {"metadata": {"name": f"s{i}"}})
    first = k8s.core.list_namespaced_secret(namespace, limit=2)
    assert [s.metadata.name for s in first.items] == ["s0", "s1"] and first.metadata.remaining_item_count == 3
    rest = k8s.core.list_namespaced_secret(namespace, limit=10, _continue=first.metadata._continue)
    assert [s.metadata.name for s in rest.items] == ["s2", "s3", "s4"] and not rest.metadata._continue


def test_applying_replicas_after_a_scale_conflicts_with_the_scaler(k8s, namespace):
    from tests.sandbox.conftest import deployment_manifest

    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", **deployment_manifest("web", replicas=2)}
    apply = dict(field_manager="portal", _content_type="application/apply-patch+yaml")
    k8s.apps.patch_namespaced_deployment("web", namespace, manifest, **apply)
    k8s.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}}, field_manager="hpa")
    with pytest.raises(client.ApiException) as exc:
        k8s.apps.patch_namespaced_deployment("web", namespace, manifest, **apply)
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["message"] == ('Apply failed with 1 conflict: conflict with "hpa" using apps/v1: '
                                                     ".spec.replicas")
