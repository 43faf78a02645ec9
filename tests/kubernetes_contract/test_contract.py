"""The Kubernetes backend's contract, run against the sandbox and a real kube-apiserver alike."""

from __future__ import annotations

import time

import pytest
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.rest import ApiException

from backends.errors import BackendPermanentError, BackendTransientError


def eventually(check, seconds=30.0, interval=0.25):
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("condition never held")
        time.sleep(interval)


def pod(name, ns, cpu=None, gates=()):
    container = {"name": "app", "image": "registry.local/app:1"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}
    spec = {"containers": [container]}
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def raw(leg) -> k8s.ApiClient:
    return leg.backend().api


def test_ensure_namespace_is_idempotent_and_keeps_labels(leg, ns):
    backend = leg.backend()
    backend.ensure_namespace(ns, labels={"bluedock.io/managed": "true", "contract": "yes", "extra": "1"})
    backend.ensure_namespace(ns, labels={"bluedock.io/managed": "true", "contract": "yes", "extra": "1"})
    labels = backend.get("v1", "Namespace", ns)["metadata"]["labels"]
    assert labels["extra"] == "1" and labels["contract"] == "yes"
    names = [n["metadata"]["name"] for n in backend.list("v1", "Namespace", label_selector="extra=1")]
    assert names == [ns]


def test_quota_refuses_a_pod_over_it_with_kubernetes_own_words(leg, ns):
    backend = leg.backend()
    backend.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": ns},
                   "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"}}})
    # The quota controller must have computed usage before admission counts against it.
    eventually(lambda: (backend.get("v1", "ResourceQuota", "q", ns).get("status") or {}).get("hard"))
    with pytest.raises(BackendPermanentError) as refused:
        backend.apply(pod("big", ns, cpu="2"))
    assert refused.value.status == 403
    assert ('pods "big" is forbidden: exceeded quota: q, requested: requests.cpu=2, used: requests.cpu=0, '
            "limited: requests.cpu=1") in str(refused.value)
    backend.apply(pod("small", ns, cpu="500m"))
    assert backend.get("v1", "Pod", "small", ns) is not None


def test_limit_range_defaults_fill_in_missing_requests(leg, ns):
    backend = leg.backend()
    backend.apply({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "d", "namespace": ns},
                   "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                        "default": {"cpu": "500m", "memory": "512Mi"}}]}})
    backend.apply(pod("bare", ns))
    resources = backend.get("v1", "Pod", "bare", ns)["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert resources["limits"] == {"cpu": "500m", "memory": "512Mi"}


def test_a_role_binding_lets_a_user_into_one_namespace_and_not_another(leg, ns):
    backend = leg.backend()
    other = f"{ns}-other"
    backend.ensure_namespace(other, labels={"contract": "yes"})
    try:
        backend.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "alice-edit", "namespace": ns},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]})
        alice = leg.as_user("alice")
        eventually(lambda: alice.list_pods(ns) == [])
        with pytest.raises(BackendPermanentError) as denied:
            alice.list_pods(other)
        assert denied.value.status == 403
        assert f'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace ' \
               f'"{other}"' in str(denied.value)
    finally:
        backend.delete("v1", "Namespace", other)


def test_server_side_apply_owns_fields_and_forces_drift_back(leg, ns):
    backend = leg.backend()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"a": "1", "b": "2"}}
    backend.apply(cm)
    backend.apply({**cm, "data": {"a": "1"}})
    assert backend.get("v1", "ConfigMap", "cfg", ns)["data"] == {"a": "1"}  # a field we stopped applying is gone
    # Someone else applies a different value for our field: without force, that is a conflict...
    body = {**cm, "data": {"a": "hand-edited"}}
    with pytest.raises(BackendTransientError) as conflict:
        backend.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/cfg", body=body,
                        query=[("fieldManager", "kubectl")], content_type="application/apply-patch+yaml")
    assert conflict.value.status == 409 and "conflict" in str(conflict.value).lower()
    # ...a plain update (as kubectl edit does) wins, and our next apply takes the field back.
    core = k8s.CoreV1Api(raw(leg))
    core.patch_namespaced_config_map("cfg", ns, {"data": {"a": "hand-edited"}})
    assert backend.get("v1", "ConfigMap", "cfg", ns)["data"]["a"] == "hand-edited"
    backend.apply({**cm, "data": {"a": "1"}})
    assert backend.get("v1", "ConfigMap", "cfg", ns)["data"] == {"a": "1"}


def test_stale_resource_version_is_a_conflict(leg, ns):
    core = k8s.CoreV1Api(raw(leg))
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "rv"}, "data": {"x": "1"}})
    version = created.metadata.resource_version
    core.replace_namespaced_config_map("rv", ns, {"metadata": {"name": "rv", "resourceVersion": version},
                                                  "data": {"x": "2"}})
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("rv", ns, {"metadata": {"name": "rv", "resourceVersion": version},
                                                      "data": {"x": "3"}})
    assert stale.value.status == 409 and "the object has been modified" in stale.value.body


def test_label_selectors_select(leg, ns):
    backend = leg.backend()
    for name, labels in (("web", {"app": "web", "tier": "front"}), ("db", {"app": "db"}), ("plain", {})):
        backend.apply({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": name, "namespace": ns, "labels": labels}})

    def names(selector):
        return sorted(o["metadata"]["name"] for o in backend.list("v1", "ConfigMap", ns, label_selector=selector)
                      if o["metadata"]["name"] in {"web", "db", "plain"})

    assert names("app=web") == ["web"]
    assert names("app in (web,db)") == ["db", "web"]
    assert names("app!=web") == ["db", "plain"]
    assert names("!app") == ["plain"]
    assert names("app,tier=front") == ["web"]


def test_watch_streams_added_modified_and_deleted(leg, ns):
    core = k8s.CoreV1Api(raw(leg))
    listed = core.list_namespaced_config_map(ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}, "data": {"v": "1"}})
    core.patch_namespaced_config_map("w", ns, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w", ns)
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, ns,
                                      resource_version=listed.metadata.resource_version, timeout_seconds=5):
        if event["object"].metadata.name == "w":
            seen.append(event["type"])
        if event["type"] == "DELETED":
            break
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_a_deployment_gets_its_pods(leg, ns):
    backend = leg.backend()
    backend.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "app", "image": "registry.local/web:1"}]}}}})
    pods = eventually(lambda: len(backend.list_pods(ns, label_selector="app=web")) == 2
                      and backend.list_pods(ns, label_selector="app=web"))
    assert {p.labels["app"] for p in pods} == {"web"}
    backend.scale("apps/v1", "Deployment", ns, "web", 3)
    eventually(lambda: len(backend.list_pods(ns, label_selector="app=web")) == 3)


def test_pods_are_listed_whole_in_pages(leg, ns):
    """limit/continue, as a large cluster needs; a continue token that makes no sense is refused."""
    backend = leg.backend()
    backend.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "many", "namespace": ns},
                   "spec": {"replicas": 7, "selector": {"matchLabels": {"app": "many"}},
                            "template": {"metadata": {"labels": {"app": "many"}},
                                         "spec": {"containers": [{"name": "app", "image": "registry.local/web:1"}]}}}})
    eventually(lambda: len(backend.list_pods(ns)) == 7)
    paged = backend.list_pods(ns, page_size=3)
    assert sorted(p.name for p in paged) == sorted(p.name for p in backend.list_pods(ns))
    assert len({p.uid for p in paged}) == 7
    with pytest.raises(BackendPermanentError) as refused:
        backend.request("GET", f"/api/v1/namespaces/{ns}/pods", query=[("limit", "3"), ("continue", "not-a-token")])
    assert refused.value.status == 400


def test_eviction_is_negotiated_with_the_server(leg, ns):
    backend = leg.backend()
    backend.apply(pod("victim", ns))
    assert backend.evict(ns, "victim", grace_seconds=0) is True
    eventually(lambda: (backend.get("v1", "Pod", "victim", ns) is None
                        or backend.get("v1", "Pod", "victim", ns)["metadata"].get("deletion_timestamp")))
    assert backend.evict(ns, "never-existed", grace_seconds=0) is False


def test_removing_a_scheduling_gate(leg, ns):
    leg.require(26, "Pod scheduling gates")
    backend = leg.backend()
    backend.apply(pod("gated", ns, gates=("bluedock.io/admission", "other.io/x")))
    assert backend.list_pods(ns)[0].scheduling_gates == ("bluedock.io/admission", "other.io/x")
    assert backend.remove_scheduling_gate(ns, "gated", "bluedock.io/admission") is True
    assert backend.list_pods(ns)[0].scheduling_gates == ("other.io/x",)
    assert backend.remove_scheduling_gate(ns, "gated", "bluedock.io/admission") is False
    # The cycle passes the gates it listed; a stale listing fails the patch's test and is re-read.
    stale = ("bluedock.io/admission", "other.io/x")
    assert backend.remove_scheduling_gate(ns, "gated", "other.io/x", gates=stale) is True
    assert backend.list_pods(ns)[0].scheduling_gates == ()


def test_a_scheduling_gate_stays_on_a_pod_made_again_under_the_same_name(leg, ns):
    """The cycle ungates the pod it decided about, by uid: a pod deleted and made again under its
    name between the listing and the patch keeps its gate, listed gates or not."""
    leg.require(26, "Pod scheduling gates")
    backend = leg.backend()
    backend.apply(pod("db-0", ns, gates=("bluedock.io/admission",)))
    (old,) = backend.list_pods(ns)
    backend.delete("v1", "Pod", "db-0", ns, grace_seconds=0)
    eventually(lambda: backend.get("v1", "Pod", "db-0", ns) is None)
    backend.apply(pod("db-0", ns, gates=("bluedock.io/admission",)))
    (new,) = backend.list_pods(ns)
    assert new.uid != old.uid
    assert backend.remove_scheduling_gate(ns, "db-0", "bluedock.io/admission", gates=old.scheduling_gates,
                                          uid=old.uid) is False
    assert backend.remove_scheduling_gate(ns, "db-0", "bluedock.io/admission", uid=old.uid) is False
    assert backend.list_pods(ns)[0].scheduling_gates == ("bluedock.io/admission",)
    assert backend.remove_scheduling_gate(ns, "db-0", "bluedock.io/admission", gates=new.scheduling_gates,
                                          uid=new.uid) is True
    assert backend.list_pods(ns)[0].scheduling_gates == ()


def test_errors_carry_the_servers_message(leg, ns):
    with pytest.raises(BackendPermanentError) as bad:
        leg.backend().apply({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "Not_Valid", "namespace": ns}})
    assert bad.value.status == 422 and "Not_Valid" in str(bad.value)


def test_a_name_ending_in_a_newline_is_refused(leg, ns):
    """Kubernetes' name patterns end at the end of the text (Go's '$'), not before a final newline."""
    with pytest.raises(ApiException) as bad:
        k8s.CoreV1Api(raw(leg)).create_namespaced_config_map(
            ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "valid\n"}})
    assert bad.value.status == 422


def test_deleting_a_pod_waits_out_its_grace_only_when_a_kubelet_holds_it(leg, ns):
    """Graceful deletion as the API server shows it. Both pods are bound (or not) to a node no
    kubelet serves, so neither leg's kubelet can finish the grace: what is compared is the API's own
    part — deletionTimestamp and grace set, pod still readable, only shorter graces accepted, 0 = gone."""
    from datetime import UTC, datetime

    def when(meta):
        return datetime.fromisoformat(meta["deletionTimestamp"].replace("Z", "+00:00"))

    backend = leg.backend()
    eventually(lambda: backend.get("v1", "ServiceAccount", "default", ns))  # pods need it on the real leg
    nowhere = f"no-kubelet-{ns}"  # a node name without a node: the pod is bound, nothing runs it
    backend.apply({**pod("bound", ns), "spec": {**pod("bound", ns)["spec"], "nodeName": nowhere,
                                                "terminationGracePeriodSeconds": 30,
                                                "automountServiceAccountToken": False}})
    backend.apply({**pod("unbound", ns), "spec": {**pod("unbound", ns)["spec"], "schedulerName": "nobody",
                                                  "terminationGracePeriodSeconds": 30,
                                                "automountServiceAccountToken": False}})

    assert backend.delete("v1", "Pod", "unbound", ns) is True
    assert backend.get("v1", "Pod", "unbound", ns) is None  # unbound: no kubelet to wait for, gone at once

    assert backend.evict(ns, "bound", grace_seconds=20) is True
    meta = backend.get("v1", "Pod", "bound", ns)["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 20
    left = (when(meta) - datetime.now(UTC)).total_seconds()
    assert 17 <= left <= 21, left
    backend.delete("v1", "Pod", "bound", ns, grace_seconds=25)  # a longer grace is ignored
    assert backend.get("v1", "Pod", "bound", ns)["metadata"]["deletionGracePeriodSeconds"] == 20
    backend.delete("v1", "Pod", "bound", ns, grace_seconds=5)  # a shorter one moves the deadline earlier
    shorter = backend.get("v1", "Pod", "bound", ns)["metadata"]
    assert shorter["deletionGracePeriodSeconds"] == 5
    assert (when(meta) - when(shorter)).total_seconds() == 15
    backend.delete("v1", "Pod", "bound", ns, grace_seconds=0)
    assert backend.get("v1", "Pod", "bound", ns) is None
