import pytest

from tenants.models import AuditEvent, Membership, Tenant

pytestmark = pytest.mark.django_db


def test_tenant_admin_creates_a_child_and_it_is_audited(api, alice, tree):
    response = api(alice).post("/api/v1/tenants/", {"name": "A Prod", "slug": "prod", "parent": tree["a"].pk},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] and body["full_slug"] == "org/a/prod" and body["depth"] == 3 and body["parent"] == tree["a"].pk
    assert body["my_role"] == "tenant-admin"
    event = AuditEvent.objects.get(action="tenant.create")
    assert event.actor == alice and event.after["slug"] == "prod"


def test_member_cannot_create_a_child(api, bob, tree):
    response = api(bob).post("/api/v1/tenants/", {"name": "X", "slug": "x", "parent": tree["a"].pk}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "permission_denied"
    assert not Tenant.objects.filter(slug="x").exists()


def test_only_operators_create_root_tenants(api, alice, operator, tree):
    assert api(alice).post("/api/v1/tenants/", {"name": "R", "slug": "r", "parent": None},
                           format="json").status_code == 403
    response = api(operator).post("/api/v1/tenants/", {"name": "R", "slug": "r", "parent": None}, format="json")
    assert response.status_code == 201
    assert response.json()["depth"] == 1 and response.json()["parent"] is None


def test_list_filters_by_parent_depth_state_and_q(api, operator, tree):
    client = api(operator)
    by_parent = client.get("/api/v1/tenants/", {"parent": tree["org"].pk}).json()["results"]
    assert [t["slug"] for t in by_parent] == ["a", "b"]
    roots = client.get("/api/v1/tenants/", {"parent": "null"}).json()["results"]
    assert [t["slug"] for t in roots] == ["org"]
    assert [t["full_slug"] for t in client.get("/api/v1/tenants/", {"depth": 3}).json()["results"]] == ["org/a/dev"]
    assert [t["slug"] for t in client.get("/api/v1/tenants/", {"q": "team b"}).json()["results"]] == ["b"]
    Tenant.objects.filter(pk=tree["b"].pk).update(state="suspended")
    assert [t["slug"] for t in client.get("/api/v1/tenants/", {"state": "suspended"}).json()["results"]] == ["b"]


def test_children_ancestors_and_tree(api, alice, tree):
    client = api(alice)
    children = client.get(f"/api/v1/tenants/{tree['a'].pk}/children/").json()["results"]
    assert [c["slug"] for c in children] == ["dev"]
    # alice cannot see org, so the ancestors of a/dev stop at a.
    ancestors = client.get(f"/api/v1/tenants/{tree['a_dev'].pk}/ancestors/").json()
    assert [t["slug"] for t in ancestors] == ["a"]
    subtree = client.get(f"/api/v1/tenants/{tree['a'].pk}/tree/").json()
    assert subtree["slug"] == "a" and [c["slug"] for c in subtree["children"]] == ["dev"]
    assert client.get(f"/api/v1/tenants/{tree['a'].pk}/tree/", {"depth": 0}).json()["children"] == []


def test_rename_keeps_slug_and_parent(api, alice, tree):
    response = api(alice).patch(f"/api/v1/tenants/{tree['a'].pk}/", {"name": "Team Alpha"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Team Alpha"
    assert AuditEvent.objects.filter(action="tenant.update", before__name="Team A", after__name="Team Alpha").exists()


def test_suspend_blocks_new_children_below(api, operator, alice, tree):
    assert api(operator).post(f"/api/v1/tenants/{tree['a'].pk}/suspend/", {"reason": "unpaid"},
                              format="json").status_code == 200
    response = api(alice).post("/api/v1/tenants/", {"name": "Q", "slug": "q", "parent": tree["a_dev"].pk},
                               format="json")
    assert response.status_code == 409 and response.json()["code"] == "tenant_suspended"
    assert api(operator).post(f"/api/v1/tenants/{tree['a'].pk}/resume/", {}, format="json").status_code == 200
    assert api(alice).post("/api/v1/tenants/", {"name": "Q", "slug": "q", "parent": tree["a_dev"].pk},
                           format="json").status_code == 201


def test_delete_refuses_a_tenant_with_children_and_deletes_an_empty_one(api, alice, tree):
    client = api(alice)
    response = client.delete(f"/api/v1/tenants/{tree['a'].pk}/")
    assert response.status_code in (403, 409)  # alice administers a but not its parent org
    response = client.delete(f"/api/v1/tenants/{tree['a_dev'].pk}/")
    assert response.status_code == 204
    assert not Tenant.objects.filter(pk=tree["a_dev"].pk).exists()
    assert Tenant.objects.get(pk=tree["a"].pk).numchild == 0
    assert AuditEvent.objects.filter(action="tenant.delete").exists()


def test_delete_of_non_empty_tenant_is_a_conflict(api, operator, tree):
    response = api(operator).delete(f"/api/v1/tenants/{tree['a'].pk}/")
    assert response.status_code == 409 and response.json()["code"] == "tenant_not_empty"
    assert Tenant.objects.filter(pk=tree["a"].pk).exists()
    assert Membership.objects.filter(tenant=tree["a"]).count() == 2


def test_users_me_lists_effective_tenants(api, bob, tree):
    body = api(bob).get("/api/v1/users/me/").json()
    assert body["username"] == "bob" and body["is_operator"] is False
    assert body["tenants"] == [{"id": tree["a"].pk, "path": "org/a", "role": "member"}]


def test_anonymous_gets_401_problem(api, tree):
    response = api().get("/api/v1/tenants/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_delete_of_a_tenant_other_rows_still_hold_is_a_conflict_and_deletes_nothing(api, alice, tree, cluster):
    from scheduling.models import SchedulingRequest

    SchedulingRequest.objects.create(cluster=cluster, tenant=tree["a_dev"], key="a-dev/train", namespace="a-dev",
                                     name="train", state="pending", reason="waiting")
    Membership.objects.create(tenant=tree["a_dev"], user=alice, role="viewer")
    before = (Membership.objects.filter(tenant=tree["a_dev"]).count(), tree["a_dev"].plans.count())
    response = api(alice).delete(f"/api/v1/tenants/{tree['a_dev'].pk}/")
    assert response.status_code == 409, response.content
    problem = response.json()
    assert problem["code"] == "tenant_not_empty"
    assert list(problem["held_by"]) == ["scheduling.schedulingrequest"]
    assert problem["held_by"]["scheduling.schedulingrequest"]["count"] == 1
    assert "'org/a/dev' is still used by 1 scheduling request" in problem["detail"]
    assert Tenant.objects.filter(pk=tree["a_dev"].pk).exists()
    assert (Membership.objects.filter(tenant=tree["a_dev"]).count(), tree["a_dev"].plans.count()) == before
    assert not AuditEvent.objects.filter(action="tenant.delete").exists()
    # Once nothing holds it, it goes.
    SchedulingRequest.objects.filter(tenant=tree["a_dev"]).delete()
    assert api(alice).delete(f"/api/v1/tenants/{tree['a_dev'].pk}/").status_code == 204
