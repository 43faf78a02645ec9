import pytest

from tenants.models import AuditEvent, Cluster, Namespace

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
