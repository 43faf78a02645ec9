"""Tokens map to users; RoleBindings decide what they may do, with the API server's 403 text."""

import json

import pytest
from kubernetes import client, config


@pytest.fixture
def alice(sandbox_api, k8s, tmp_path):
    for ns in ("tenant-a", "tenant-b"):
        k8s.core.create_namespace({"metadata": {"name": ns}})
    client.RbacAuthorizationV1Api(k8s.raw).create_namespaced_role_binding("tenant-a", {
        "metadata": {"name": "members-edit"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                          "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "Group", "name": "tenant-a", "apiGroup": "rbac.authorization.k8s.io"}]})
    sandbox_api.admin("POST", "/sandbox/tokens", {"token": "alice-token", "user": "alice", "groups": ["tenant-a"]})
    cfg = client.Configuration()
    cfg.host, cfg.api_key = sandbox_api.url, {"authorization": "Bearer alice-token"}
    api_client = client.ApiClient(cfg)
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_member_may_work_in_own_namespace_only(alice):
    alice.create_namespaced_config_map("tenant-a", {"metadata": {"name": "mine"}})
    assert [c.metadata.name for c in alice.list_namespaced_config_map("tenant-a").items if c.metadata.name == "mine"]
    with pytest.raises(client.ApiException) as exc:
        alice.list_namespaced_pod("tenant-b")
    assert exc.value.status == 403
    assert json.loads(exc.value.body)["message"] == ('pods is forbidden: User "alice" cannot list resource "pods" in '
                                                     'API group "" in the namespace "tenant-b"')


def test_edit_role_cannot_change_quotas(alice):
    with pytest.raises(client.ApiException) as exc:
        alice.create_namespaced_resource_quota("tenant-a", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}})
    assert exc.value.status == 403


def test_unknown_tokens_are_unauthorized_once_tokens_are_registered(alice, sandbox_api):
    cfg = client.Configuration()
    cfg.host, cfg.api_key = sandbox_api.url, {"authorization": "Bearer nobody"}
    with client.ApiClient(cfg) as api_client, pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(api_client).list_namespace()
    assert exc.value.status == 401
    admin = config.new_client_from_config(config_file=sandbox_api.kubeconfig)
    assert client.CoreV1Api(admin).list_namespace().items  # the kubeconfig's token stays admin
    admin.close()


def test_subject_access_review_answers_from_the_same_rules(alice, k8s):
    authz = client.AuthorizationV1Api(k8s.raw)

    def can(ns):
        review = authz.create_subject_access_review({"spec": {"user": "alice", "groups": ["tenant-a"],
                                                              "resourceAttributes": {"namespace": ns, "verb": "create",
                                                                                     "resource": "pods"}}})
        return review.status.allowed

    assert can("tenant-a") and not can("tenant-b")
