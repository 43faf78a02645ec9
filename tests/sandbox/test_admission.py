"""Admission: ResourceQuota with Kubernetes' own error text, LimitRange defaults."""

import json

import pytest
from kubernetes import client

from tests.sandbox.conftest import pod_manifest
from tests.servers.sandbox import wait_for


def test_pod_over_quota_is_forbidden_with_kubernetes_message(k8s, namespace):
    k8s.core.create_namespaced_resource_quota(namespace, {"metadata": {"name": "bluedock-quota"},
                                                          "spec": {"hard": {"requests.cpu": "1", "pods": "10"}}})
    k8s.core.create_namespaced_pod(namespace, pod_manifest("web-0", cpu="1"))
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespaced_pod(namespace, pod_manifest("web-1", cpu="500m"))
    body = json.loads(exc.value.body)
    assert exc.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('pods "web-1" is forbidden: exceeded quota: bluedock-quota, requested: '
                               "requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1")
    # The quota controller catches up with the admitted pod on its next pass.
    wait_for(lambda: k8s.core.read_namespaced_resource_quota("bluedock-quota", namespace).status.used
             == {"requests.cpu": "1", "pods": "1"})


def test_quota_requires_requests_when_it_limits_them(k8s, namespace):
    k8s.core.create_namespaced_resource_quota(namespace, {"metadata": {"name": "q"},
                                                          "spec": {"hard": {"requests.memory": "1Gi"}}})
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespaced_pod(namespace, pod_manifest("bare"))
    assert json.loads(exc.value.body)["message"] == ('pods "bare" is forbidden: failed quota: q: must specify '
                                                     "requests.memory")


def test_limit_range_defaults_fill_missing_requests_and_limits(k8s, namespace):
    k8s.core.create_namespaced_limit_range(namespace, {"metadata": {"name": "defaults"}, "spec": {"limits": [{
        "type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}]}})
    pod = k8s.core.create_namespaced_pod(namespace, pod_manifest("p"))
    resources = pod.spec.containers[0].resources
    assert resources.requests == {"cpu": "100m", "memory": "64Mi"}
    assert resources.limits == {"cpu": "500m", "memory": "256Mi"}


def test_invalid_names_are_rejected_like_kubernetes(k8s):
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespace({"metadata": {"name": "Bad_Name"}})
    body = json.loads(exc.value.body)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                                      "a lowercase RFC 1123 label")
