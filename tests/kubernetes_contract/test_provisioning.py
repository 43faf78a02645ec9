"""Namespace provisioning by reconciliation, against both legs."""

from __future__ import annotations

import uuid

import pytest

from backends.errors import BackendTransientError
from bluedock_portal.errors import Conflict
from tenants.models import Cluster, ManagedObject, Membership, Namespace, ResourcePlan
from tenants.provisioning import desired as d
from tenants.services import clusters, provisioning
from tenants.services.memberships import membership_create
from tenants.services.namespaces import namespace_delete
from tenants.services.plans import plan_update
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(leg, operator):
    return clusters.cluster_create(name=f"{leg.name}-{uuid.uuid4().hex[:6]}", api_url=leg.url, actor=operator,
                                   token=leg.admin.token, insecure_skip_tls_verify=True)


@pytest.fixture
def namespaces(tree, registered):
    suffix = uuid.uuid4().hex[:6]
    made = {key: Namespace.objects.create(tenant=tree[key], cluster=registered,
                                          name=f"{key.replace('_', '-')}-{suffix}")
            for key in ("org", "a", "a_dev", "b")}
    yield made
    backend = clusters.cluster_backend(registered)
    for ns in made.values():
        backend.delete("v1", "Namespace", ns.name)


def apply_when_admitted(backend, manifest: dict, *, timeout: float = 30.0) -> None:
    """Apply a pod into a namespace made a moment ago.  A real API server refuses it, as a
    transient error, until the token controller has given the namespace's default service
    account its token ("retry after the token is automatically created"): retry as a caller
    of the backend would."""
    def attempt() -> bool:
        try:
            backend.apply(manifest)
        except BackendTransientError:
            return False
        return True

    wait_for(attempt, timeout=timeout, interval=0.2)


def managed(leg, ns_name):
    backend = leg.backend()
    found = {}
    for api_version, kind in d.MANAGED_KINDS:
        for obj in backend.list(api_version, kind, namespace=ns_name):
            found[(kind, obj["metadata"]["name"])] = obj
    return found


def bindings(objects):
    return sorted((o["roleRef"]["name"], o["subjects"][0]["kind"], o["subjects"][0]["name"])
                  for (kind, _), o in objects.items() if kind == "RoleBinding")


def test_a_three_level_tree_gets_exactly_the_expected_objects(leg, tree, namespaces):
    for ns in namespaces.values():
        provisioning.namespace_reconcile(namespace=ns)
    dev = managed(leg, namespaces["a_dev"].name)
    assert set(dev) == {("ResourceQuota", "bluedock-quota"), ("LimitRange", "bluedock-defaults"),
                        ("NetworkPolicy", "bluedock-default-deny-ingress"),
                        ("RoleBinding", d.role_binding_name(d.Binding("tenant-admin", "User", "alice"))),
                        ("RoleBinding", d.role_binding_name(d.Binding("member", "User", "bob")))}
    # a/dev has no limit of its own: the strictest along org (64) and a (32) applies.
    assert dev[("ResourceQuota", "bluedock-quota")]["spec"]["hard"] == {"requests.cpu": "32"}
    assert bindings(dev) == [("admin", "User", "alice"), ("edit", "User", "bob")]
    assert bindings(managed(leg, namespaces["b"].name)) == [("admin", "User", "charlie")]
    assert bindings(managed(leg, namespaces["org"].name)) == []  # nobody holds a role on org itself
    labels = leg.backend().get("v1", "Namespace", namespaces["a_dev"].name)["metadata"]["labels"]
    assert labels[d.TENANT_LABEL] == str(tree["a_dev"].pk) and labels[d.TENANT_PATH_LABEL] == "org.a.dev"
    assert Namespace.objects.get(pk=namespaces["a_dev"].pk).sync_state == "synced"
    assert ManagedObject.objects.filter(namespace=namespaces["a_dev"]).count() == 5


def test_plan_and_membership_changes_flow_into_the_subtree(leg, tree, namespaces, alice, operator, make_user):
    make_user("dave")
    plan_update(tenant=tree["a"], changes={"cpu": {"limit": 24000}, "pods": {"owned": 0, "limit": 50}},
                actor=operator)
    membership_create(tenant=tree["a"], actor=alice, role="viewer", username="dave", inherited=True)
    provisioning.namespace_reconcile(namespace=namespaces["a_dev"])
    dev = managed(leg, namespaces["a_dev"].name)
    assert dev[("ResourceQuota", "bluedock-quota")]["spec"]["hard"] == {"requests.cpu": "24", "pods": "50"}
    assert ("view", "User", "dave") in bindings(dev)
    Membership.objects.filter(user__username="dave").delete()
    provisioning.namespace_reconcile(namespace=namespaces["a_dev"])
    assert ("view", "User", "dave") not in bindings(managed(leg, namespaces["a_dev"].name))


def test_drift_is_repaired_and_unmanaged_objects_are_left_alone(leg, tree, namespaces):
    ns = namespaces["a"].name
    provisioning.namespace_reconcile(namespace=namespaces["a"])
    backend = leg.backend()
    alice_binding = d.role_binding_name(d.Binding("tenant-admin", "User", "alice"))
    backend.delete("rbac.authorization.k8s.io/v1", "RoleBinding", alice_binding, namespace=ns)
    backend.request("PATCH", f"/api/v1/namespaces/{ns}/resourcequotas/bluedock-quota",
                    body={"spec": {"hard": {"requests.cpu": "999"}}}, content_type="application/merge-patch+json")
    backend.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "teams-own", "namespace": ns},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"}]})
    result = provisioning.namespace_reconcile(namespace=namespaces["a"])
    objects = managed(leg, ns)
    assert ("RoleBinding", alice_binding) in objects
    assert objects[("ResourceQuota", "bluedock-quota")]["spec"]["hard"] == {"requests.cpu": "32"}
    assert ("RoleBinding", "teams-own") in objects and result["pruned"] == []


def test_a_managed_object_no_longer_wanted_is_pruned(leg, tree, namespaces):
    provisioning.namespace_reconcile(namespace=namespaces["a"])
    ResourcePlan.objects.filter(tenant__in=[tree["a"], tree["org"]]).update(limit=None)
    result = provisioning.namespace_reconcile(namespace=namespaces["a"])
    assert result["pruned"] == ["ResourceQuota/bluedock-quota"]
    assert ("ResourceQuota", "bluedock-quota") not in managed(leg, namespaces["a"].name)


@pytest.mark.parametrize("labels", [{"team": "platform"}, {d.MANAGED_LABEL: "true", d.TENANT_LABEL: "999999"}],
                         ids=["made by someone else", "the portal's, for another tenant"])
def test_a_namespace_the_cluster_already_has_is_neither_taken_over_nor_deleted(leg, tree, registered, alice, labels):
    """Reconciling it would label it as the tenant's and make the tenant's admins admins in it;
    deleting it would take its workloads along."""
    name = f"theirs-{uuid.uuid4().hex[:6]}"
    backend = leg.backend()
    backend.ensure_namespace(name, labels=labels)
    try:
        ns = Namespace.objects.create(tenant=tree["a"], cluster=registered, name=name)
        with pytest.raises(Conflict) as refused:
            provisioning.namespace_reconcile(namespace=ns)
        assert refused.value.code == "namespace_not_ours" and "does not take over namespaces" in str(refused.value)
        kept = backend.get("v1", "Namespace", name)["metadata"]["labels"]
        assert labels.items() <= kept.items() and d.TENANT_PATH_LABEL not in kept
        assert managed(leg, name) == {}
        ns.refresh_from_db()
        assert ns.sync_state == "error" and "lacks the bluedock.io/managed=true" in ns.sync_message

        operation = namespace_delete(namespace=ns, actor=alice, confirm=name)
        provisioning.namespace_delete_run(operation_id=operation.pk)
        assert not Namespace.objects.filter(pk=ns.pk).exists()
        assert backend.get("v1", "Namespace", name) is not None  # still there, with what runs in it
    finally:
        backend.delete("v1", "Namespace", name)


def test_inventory_reads_nodes_and_rolls_usage_up(leg, tree, namespaces, registered):
    provisioning.namespace_reconcile(namespace=namespaces["a_dev"])
    apply_when_admitted(leg.backend(), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespaces["a_dev"].name},
        "spec": {"containers": [{"name": "c", "image": "x",
                                 "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]}})
    summary = clusters.cluster_sync_inventory(cluster=registered)
    assert summary["pods"] >= 1
    usage = dict(namespaces["a_dev"].usage.values_list("resource", "used"))
    assert usage["cpu"] == 250 and usage["memory"] == 64 and usage["pods"] == 1
    assert clusters.cluster_check_health(cluster=registered).health == Cluster.Health.HEALTHY
