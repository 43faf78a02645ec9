import pytest

from tenants.models import AuditEvent, Cluster, Membership, Namespace, OidcIdentity
from tenants.services.provisioning import namespace_facts

pytestmark = pytest.mark.django_db


def test_tenant_admin_creates_and_deletes_a_namespace_with_confirmation(api, alice, tree, cluster):
    client = api(alice)
    response = client.post("/api/v1/namespaces/", {"name": "a-web", "tenant": tree["a"].pk, "cluster": cluster.pk},
                           format="json")
    assert response.status_code == 201, response.content
    ns_id = response.json()["id"]
    assert response.json()["cluster_name"] == "sandbox" and response.json()["state"] == "pending"
    response = client.delete(f"/api/v1/namespaces/{ns_id}/")
    assert response.status_code == 400 and response.json()["code"] == "confirmation_required"
    assert Namespace.objects.filter(pk=ns_id).exists()
    response = client.delete(f"/api/v1/namespaces/{ns_id}/?confirm=a-web")
    assert response.status_code == 202 and response.json()["type"] == "namespace.delete"
    assert Namespace.objects.get(pk=ns_id).state == "deleting"  # the task removes it from the cluster, then here
    assert [e.action for e in AuditEvent.objects.order_by("id")] == ["namespace.create", "namespace.delete"]


def test_member_cannot_create_namespaces(api, bob, tree, cluster):
    response = api(bob).post("/api/v1/namespaces/", {"name": "b-web", "tenant": tree["a"].pk,
                                                     "cluster": cluster.pk}, format="json")
    assert response.status_code == 403 and not Namespace.objects.exists()


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"name": "Bad_Name"}, "invalid", "DNS-1123"),
    ({"name": "x" * 64}, "invalid", "name"),
    ({"cluster": 99999}, "invalid", "Cluster 99999 does not exist"),
    ({"tenant": 99999}, "invalid", "Tenant 99999 does not exist"),
    ({"name": "taken"}, "namespace_taken", "already exists"),
    # the cluster's own: a tenant-admin of one would be admin over its privileged service accounts
    ({"name": "kube-system"}, "namespace_reserved", "reserved for the cluster itself"),
    ({"name": "kube-node-lease"}, "namespace_reserved", "reserved for the cluster itself"),
    ({"name": "default"}, "namespace_reserved", "reserved for the cluster itself"),
    ({"name": "openshift-monitoring"}, "namespace_reserved", "reserved for the cluster itself"),
    ({"name": "cert-manager"}, "namespace_reserved", "the platform's own namespaces"),  # RESERVED_NAMESPACES
])
def test_bad_namespace_requests(api, alice, tree, cluster, body, code, message):
    Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="taken")
    payload = {"name": "ok", "tenant": tree["a"].pk, "cluster": cluster.pk, **body}
    response = api(alice).post("/api/v1/namespaces/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code and message in str(response.json())
    assert Namespace.objects.count() == 1


def test_inactive_cluster_refuses_new_namespaces(api, alice, tree, cluster):
    Cluster.objects.filter(pk=cluster.pk).update(is_active=False)
    response = api(alice).post("/api/v1/namespaces/", {"name": "a-web", "tenant": tree["a"].pk,
                                                       "cluster": cluster.pk}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "cluster_inactive"


def test_only_operators_register_clusters_and_credentials_are_never_shown(api, alice, operator, db):
    body = {"name": "prod", "api_url": "https://k8s.example.test:6443", "credentials_ref": "/run/secrets/prod"}
    assert api(alice).post("/api/v1/clusters/", body, format="json").status_code == 403
    response = api(operator).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 201 and "credentials_ref" not in response.json()
    assert "credentials_ref" not in str(api(alice).get("/api/v1/clusters/").json())
    response = api(operator).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "cluster_name_taken"


KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: ops
clusters:
- name: c1
  cluster: {server: "https://k8s.example.test:6443", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: "kubeconfig-secret-token"}
contexts:
- name: ops
  context: {cluster: c1, user: u1}
"""


def test_a_cluster_registered_from_a_kubeconfig_takes_its_server_and_hides_its_token(api, operator, db):
    response = api(operator).post("/api/v1/clusters/", {"name": "edge", "kubeconfig": KUBECONFIG}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["api_url"] == "https://k8s.example.test:6443"
    assert "kubeconfig-secret-token" not in response.content.decode()
    stored = Cluster.objects.get(name="edge")
    assert "kubeconfig-secret-token" not in stored.credentials_encrypted
    from tenants.services.clusters import cluster_credentials

    assert cluster_credentials(stored).token == "kubeconfig-secret-token"


@pytest.mark.parametrize(("body", "code"), [
    ({"name": "x1", "kubeconfig": "not: [a kubeconfig"}, "kubeconfig_invalid"),
    ({"name": "x2", "kubeconfig": "apiVersion: v1\nkind: Config\n"}, "kubeconfig_invalid"),
    ({"name": "x3"}, "cluster_credentials_missing"),
    ({"name": "Bad_Name", "api_url": "https://x", "token": "t"}, "invalid"),
    ({"name": "x4", "api_url": "not a url", "token": "t"}, "invalid"),
])
def test_bad_cluster_registrations_are_refused(api, operator, db, body, code):
    response = api(operator).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code, response.content
    assert not Cluster.objects.exists()


def test_reconcile_now_answers_202_with_an_operation_and_repeats_are_idempotent(api, bob, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web")
    client = api(bob)
    first = client.post(f"/api/v1/namespaces/{ns.pk}/reconcile/", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(f"/api/v1/namespaces/{ns.pk}/reconcile/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202 and first.json()["type"] == "namespace.reconcile"
    assert first.json()["id"] == again.json()["id"] and first.json()["state"] == "queued"
    assert client.get(f"/api/v1/namespaces/{ns.pk}/objects/").json() == []


def test_node_inventory_is_for_operators(api, alice, operator, cluster):
    assert api(alice).get(f"/api/v1/clusters/{cluster.pk}/nodes/").status_code == 403
    assert api(operator).get(f"/api/v1/clusters/{cluster.pk}/nodes/").json() == []


def _release(namespace, name, status):
    """A release row of the app store in ``namespace`` (only the fields a namespace cares about)."""
    from appstore.models import App, AppVersion, Release, Repository

    repository, _ = Repository.objects.get_or_create(name="ns-test", defaults={"kind": "internal"})
    app, _ = App.objects.get_or_create(repository=repository, name="shop")
    version, _ = AppVersion.objects.get_or_create(app=app, version="1.0.0")
    return Release.objects.create(tenant=namespace.tenant, namespace=namespace, name=name, app=app,
                                  current_version=version, status=status)


def test_a_namespace_with_releases_is_not_deleted_until_they_are_uninstalled(api, alice, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web", state="active")
    shop = _release(ns, "shop", "deployed")
    _release(ns, "cart", "failed")
    _release(ns, "old", "uninstalled")
    response = api(alice).delete(f"/api/v1/namespaces/{ns.pk}/?confirm=a-web")
    assert response.status_code == 409, response.content
    problem = response.json()
    assert problem["code"] == "namespace_has_releases" and problem["releases"] == ["cart", "shop"]
    assert "cart (failed), shop (deployed)" in problem["detail"]
    assert Namespace.objects.get(pk=ns.pk).state == "active"
    assert not AuditEvent.objects.filter(action="namespace.delete").exists()
    # Uninstalled releases do not hold the namespace.
    shop.__class__.objects.filter(namespace=ns).update(status="uninstalled")
    response = api(alice).delete(f"/api/v1/namespaces/{ns.pk}/?confirm=a-web")
    assert response.status_code == 202, response.content


def test_removing_a_deleted_namespace_takes_its_uninstalled_releases_and_names_them(tree, cluster):
    from appstore.models import Release
    from tenants.services.namespaces import namespace_remove

    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web", state="deleting")
    _release(ns, "shop", "uninstalled")
    _release(ns, "old", "uninstalled")
    namespace_remove(namespace=ns)
    assert not Namespace.objects.filter(pk=ns.pk).exists() and not Release.objects.exists()
    event = AuditEvent.objects.get(action="namespace.removed")
    assert event.before["uninstalled_releases"] == ["old", "shop"]


def test_a_release_installed_while_deletion_was_queued_stops_the_removal_with_a_reason(tree, cluster):
    from bluedock_portal.errors import Conflict
    from tenants.services.namespaces import namespace_remove

    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web", state="deleting")
    _release(ns, "late", "pending-install")
    with pytest.raises(Conflict) as refused:
        namespace_remove(namespace=ns)
    assert refused.value.code == "namespace_has_releases"
    ns.refresh_from_db()
    assert ns.sync_state == "error" and "late (pending-install)" in ns.sync_message
    assert not AuditEvent.objects.filter(action="namespace.removed").exists()


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/namespaces/?tenant={a}.9", "tenant"),
    ("/api/v1/namespaces/?tenant={a}.0", "tenant"),
    ("/api/v1/namespaces/?tenant=1e1", "tenant"),
    ("/api/v1/namespaces/?tenant=", None),
    ("/api/v1/namespaces/?cluster=1.5", "cluster"),
    ("/api/v1/tenants/?depth=2.5", "depth"),
    ("/api/v1/audit-events/?tenant={a}.9", "tenant"),
    ("/api/v1/operations/?tenant=0x10", "tenant"),
], ids=["decimal", "decimal-zero", "exponent", "blank", "cluster-decimal", "depth-decimal", "audit-tenant",
        "operations-hex"])
def test_non_integer_ids_in_filters_are_refused_not_truncated(api, alice, tree, cluster, url, field):
    Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web")
    response = api(alice).get(url.format(a=tree["a"].pk))
    if field is None:  # an empty value means no filter, as for every other filter
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"], response.json()


def test_whole_number_filters_still_filter(api, alice, tree, cluster):
    Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web")
    Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="a-dev")
    names = [n["name"] for n in api(alice).get(f"/api/v1/namespaces/?tenant={tree['a_dev'].pk}").json()["results"]]
    assert names == ["a-dev"]
    assert api(alice).get("/api/v1/tenants/?depth=3").json()["results"][0]["full_slug"] == "org/a/dev"


@pytest.mark.parametrize(("claim", "expected"), [
    ("username", {"alice", "bob-2"}),
    ("sub", {"alice", "u-77"}),  # alice has no SSO identity: her portal username
    ("email", {"alice@example.test", "bob@idp.example"}),
], ids=["username", "sub", "email"])
def test_role_bindings_name_users_as_the_clusters_know_them(tree, cluster, alice, make_user, settings, claim, expected):
    """An SSO user whose IdP name was taken in the portal is "bob-2" here while the cluster's
    authenticator sees "bob": bound by username, the IdP's bob would get the local bob's rights."""
    settings.KUBERNETES_USERNAME_CLAIM = claim
    alice.email = "alice@example.test"
    alice.save()
    sso = make_user("bob-2")
    sso.email = "bob@idp.example"
    sso.save()
    OidcIdentity.objects.create(user=sso, issuer="https://idp.example", subject="u-77")
    Membership.objects.create(tenant=tree["a"], user=sso, role="member")
    namespace = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="team-a-1")
    users = {b.subject_name for b in namespace_facts(namespace).bindings if b.subject_kind == "User"}
    assert expected <= users and ({"bob-2"} - expected).isdisjoint(users)  # (bob, of the tree, is bound too)
