"""charlie (admin of b) sees nothing of a: every object endpoint answers 404, every list omits a."""

import json

import pytest

from scheduling.models import Binding, SchedulingRequest
from tenants.models import AuditEvent, Membership, Namespace, Operation, ResourcePlan, Tenant
from tenants.services.operations import operation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_objects(tree, cluster, alice, api):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-secret-ns")
    api(alice).put(f"/api/v1/tenants/{tree['a_dev'].pk}/quota/", {"cpu": {"owned": 1000}}, format="json")
    operation, _ = operation_create(type="test.noop", actor=alice, tenant=tree["a"])
    # What the scheduling cycle records for a pod of a: one waits, one holds its owned share.
    request = SchedulingRequest.objects.create(cluster=cluster, tenant=tree["a"], key="a-secret-ns/web",
                                               namespace="a-secret-ns", name="web", demand={"cpu": 1000},
                                               state="Pending", reason="PENDING_NO_CAPACITY")
    binding = Binding.objects.create(cluster=cluster, tenant=tree["a"], event="open", request="a-secret-ns/db",
                                     namespace="a-secret-ns", pods=["db"], share="owned",
                                     reason="ADMITTED_WITHIN_OWNED", demand={"cpu": 1000}, pass_seq=1, config_version=1)
    return {"tenant": tree["a"], "dev": tree["a_dev"], "namespace": ns,
            "membership": Membership.objects.filter(tenant=tree["a"]).first(), "operation": operation,
            "request": request, "binding": binding}


OBJECT_ENDPOINTS = [
    ("GET", "/api/v1/tenants/{tenant}/", None),
    ("GET", "/api/v1/tenants/{dev}/", None),
    ("GET", "/api/v1/tenants/{tenant}/children/", None),
    ("GET", "/api/v1/tenants/{dev}/ancestors/", None),
    ("GET", "/api/v1/tenants/{tenant}/tree/", None),
    ("GET", "/api/v1/tenants/{tenant}/quota/", None),
    ("PUT", "/api/v1/tenants/{dev}/quota/", {"cpu": {"owned": 0}}),
    ("GET", "/api/v1/tenants/{tenant}/members/", None),
    ("GET", "/api/v1/tenants/{tenant}/members/?effective=true", None),
    ("POST", "/api/v1/tenants/{tenant}/members/", {"user": "charlie", "role": "viewer"}),
    ("PATCH", "/api/v1/tenants/{tenant}/", {"name": "pwned"}),
    ("DELETE", "/api/v1/tenants/{dev}/", None),
    ("POST", "/api/v1/tenants/{tenant}/suspend/", {}),
    ("GET", "/api/v1/namespaces/{namespace}/", None),
    ("DELETE", "/api/v1/namespaces/{namespace}/?confirm=a-secret-ns", None),
    ("GET", "/api/v1/namespaces/{namespace}/objects/", None),
    ("POST", "/api/v1/namespaces/{namespace}/reconcile/", {}),
    ("GET", "/api/v1/memberships/{membership}/", None),
    ("PATCH", "/api/v1/memberships/{membership}/", {"role": "viewer"}),
    ("DELETE", "/api/v1/memberships/{membership}/", None),
    ("GET", "/api/v1/operations/{operation}/", None),
    ("GET", "/api/v1/tenants/{dev}/scheduling-policy/", None),
    ("PATCH", "/api/v1/tenants/{tenant}/scheduling-policy/", {"weight": "100"}),
    ("GET", "/api/v1/scheduling/requests/{request}/", None),
    ("GET", "/api/v1/scheduling/requests/{request}/why/", None),
    ("GET", "/api/v1/scheduling/bindings/{binding}/", None),
    ("GET", "/api/v1/tenants/{tenant}/share/", None),
    ("GET", "/api/v1/tenants/{dev}/share/", None),
    ("GET", "/tenants/{tenant}/scheduling/", None),
]


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_ENDPOINTS, ids=[f"{m} {u}" for m, u, _ in OBJECT_ENDPOINTS])
def test_charlie_gets_404_for_every_object_of_a(api, charlie, a_objects, method, url, body):
    url = url.format(**{k: v.pk for k, v in a_objects.items()})
    before = (list(Tenant.objects.values_list("id", "name", "state")), ResourcePlan.objects.count(),
              Membership.objects.count(), Namespace.objects.count())
    response = api(charlie).generic(method, url, json.dumps(body) if body is not None else "",
                                    content_type="application/json")
    assert response.status_code == 404, (url, response.status_code, response.content)
    assert "a-secret-ns" not in response.content.decode() and "Team A" not in response.content.decode()
    assert before == (list(Tenant.objects.values_list("id", "name", "state")), ResourcePlan.objects.count(),
                      Membership.objects.count(), Namespace.objects.count())


LISTS = ["/api/v1/tenants/", "/api/v1/namespaces/", "/api/v1/audit-events/", "/api/v1/operations/",
         "/api/v1/users/me/", "/api/v1/tenants/?q=team", "/api/v1/audit-events/?tenant={tenant}",
         "/api/v1/namespaces/?tenant={tenant}", "/api/v1/tenants/?parent={tenant}"]
SCHEDULING_LISTS = ["/api/v1/scheduling/requests/", "/api/v1/scheduling/requests/?tenant={tenant}",
                    "/api/v1/scheduling/requests/?tenant={tenant}&subtree=true",
                    "/api/v1/scheduling/requests/?namespace=a-secret-ns", "/api/v1/scheduling/bindings/",
                    "/api/v1/scheduling/bindings/?tenant={tenant}&subtree=true",
                    "/api/v1/scheduling/bindings/?namespace=a-secret-ns&open=true", "/api/v1/scheduling/settings/"]
LISTS += SCHEDULING_LISTS


@pytest.mark.parametrize("url", LISTS)
def test_charlies_lists_contain_nothing_of_a(api, charlie, a_objects, url):
    response = api(charlie).get(url.format(tenant=a_objects["tenant"].pk))
    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("Team A", "a-secret-ns", "org/a", '"alice"'):
        assert secret not in text, (url, secret)


@pytest.mark.parametrize("url", SCHEDULING_LISTS[:-1])
def test_what_charlie_may_not_see_is_there_for_alice(api, alice, a_objects, url):
    # Without this, an empty list would pass the test above for the wrong reason.
    assert "a-secret-ns" in api(alice).get(url.format(tenant=a_objects["tenant"].pk)).content.decode()


def test_charlie_sees_his_own_tenant(api, charlie, tree):
    assert [t["full_slug"] for t in api(charlie).get("/api/v1/tenants/").json()["results"]] == ["org/b"]


def test_alice_sees_her_subtree_events_but_not_bs(api, alice, charlie, tree, a_objects):
    api(charlie).patch(f"/api/v1/tenants/{tree['b'].pk}/", {"name": "Team B renamed"}, format="json")
    actions = {(e["action"], e["target_repr"]) for e in api(alice).get("/api/v1/audit-events/").json()["results"]}
    assert ("quota.update", "org/a/dev") in actions
    assert not any(target == "org/b" for _, target in actions)
    assert AuditEvent.objects.filter(target_repr="org/b").exists()


def test_bob_member_sees_a_but_may_not_change_members_or_plans(api, bob, tree, a_objects):
    client = api(bob)
    assert client.get(f"/api/v1/tenants/{tree['a'].pk}/").status_code == 200
    response = client.put(f"/api/v1/tenants/{tree['a_dev'].pk}/quota/", {"cpu": {"owned": 0}}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    response = client.delete(f"/api/v1/memberships/{a_objects['membership'].pk}/")
    assert response.status_code == 403
    assert Operation.objects.filter(pk=a_objects["operation"].pk).exists()


def test_a_refused_change_is_audited_as_denied(api, bob, tree):
    api(bob).put(f"/api/v1/tenants/{tree['a_dev'].pk}/quota/", {"cpu": {"owned": 0}}, format="json")
    event = AuditEvent.objects.get(result="denied")
    assert event.actor == bob and event.target_repr == f"PUT /api/v1/tenants/{tree['a_dev'].pk}/quota/"
    assert "tenant-admin" in event.reason
