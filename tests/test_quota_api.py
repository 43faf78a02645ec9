import pytest

from tenants.models import AuditEvent, Namespace, NamespaceUsage, ResourcePlan

pytestmark = pytest.mark.django_db


def quota_url(tenant):
    return f"/api/v1/tenants/{tenant.pk}/quota/"


def test_parent_admin_sets_a_child_plan_and_omitted_fields_keep_their_value(api, alice, tree):
    client = api(alice)
    body = {"cpu": {"owned": 8000, "limit": 16000, "borrow_limit": 4000, "lend_limit": 8000}}
    response = client.put(quota_url(tree["a_dev"]), body, format="json")
    assert response.status_code == 200, response.content
    cpu = response.json()["resources"]["cpu"]
    assert (cpu["owned"], cpu["limit"], cpu["borrow_limit"], cpu["lend_limit"]) == (8000, 16000, 4000, 8000)
    response = client.put(quota_url(tree["a_dev"]), {"cpu": {"lend_limit": 2000}}, format="json")
    cpu = response.json()["resources"]["cpu"]
    assert (cpu["owned"], cpu["limit"], cpu["lend_limit"]) == (8000, 16000, 2000)
    events = AuditEvent.objects.filter(action="quota.update").order_by("id")
    assert [e.after["lend_limit"] for e in events] == [8000, 2000]
    assert events.last().before["lend_limit"] == 8000


def test_tenant_admin_cannot_raise_its_own_plan(api, alice, tree):
    response = api(alice).put(quota_url(tree["a"]), {"cpu": {"owned": 60000}}, format="json")
    assert response.status_code == 403
    assert ResourcePlan.objects.get(tenant=tree["a"], resource="cpu").owned == 16000


def test_child_owned_over_parent_names_the_parent(api, operator, tree):
    # org owns 64000; a and b own 16000 each, so b may grow to 48000 but not beyond.
    response = api(operator).put(quota_url(tree["b"]), {"cpu": {"owned": 48001, "limit": 60000}}, format="json")
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "quota_invalid" and problem["parent_owned"] == 64000
    assert problem["siblings_owned"] == 16000 and "org" in problem["detail"]
    assert api(operator).put(quota_url(tree["b"]), {"cpu": {"owned": 48000, "limit": 60000}},
                             format="json").status_code == 200


def test_child_limit_over_an_ancestor_limit_names_that_ancestor(api, alice, tree):
    response = api(alice).put(quota_url(tree["a_dev"]), {"cpu": {"owned": 0, "limit": 32001}}, format="json")
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "quota_invalid" and problem["parent_limit"] == 32000
    assert problem["limiting_path"] == "org/a"


def test_parent_cannot_drop_below_what_children_own_or_their_limits(api, alice, operator, tree):
    api(alice).put(quota_url(tree["a_dev"]), {"cpu": {"owned": 8000, "limit": 20000}}, format="json")
    response = api(operator).put(quota_url(tree["a"]), {"cpu": {"owned": 7000}}, format="json")
    assert response.status_code == 400 and response.json()["children_owned"] == 8000
    response = api(operator).put(quota_url(tree["a"]), {"cpu": {"limit": 19000}}, format="json")
    assert response.status_code == 400 and response.json()["child_limit"] == 20000
    assert ResourcePlan.objects.get(tenant=tree["a"], resource="cpu").limit == 32000


def test_lowering_a_limit_below_usage_is_allowed_and_flagged(api, operator, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="a-dev")
    NamespaceUsage.objects.create(namespace=ns, resource="cpu", used=20000)
    response = api(operator).put(quota_url(tree["a"]), {"cpu": {"owned": 16000, "limit": 18000}}, format="json")
    assert response.status_code == 200
    cpu = response.json()["resources"]["cpu"]
    assert cpu["over_limit"] is True and cpu["subtree_used"] == 20000 and cpu["headroom"] == -2000
    assert ResourcePlan.objects.get(tenant=tree["a"], resource="cpu").limit == 18000  # not clamped


def test_report_shows_usage_along_the_tree_and_headroom_from_the_strictest_ancestor(api, alice, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="a-dev")
    NamespaceUsage.objects.create(namespace=ns, resource="cpu", used=5000)
    api(alice).put(quota_url(tree["a_dev"]), {"cpu": {"owned": 4000}}, format="json")
    report = api(alice).get(quota_url(tree["a_dev"])).json()["resources"]["cpu"]
    # a_dev has no limit of its own; a's limit 32000 minus a's subtree usage 5000 is the headroom.
    assert report["used"] == 5000 and report["subtree_used"] == 5000
    assert report["effective_limit"] == 32000 and report["headroom"] == 27000
    assert report["limiting_tenant"] == {"id": tree["a"].pk, "path": "org/a"}
    parent = api(alice).get(quota_url(tree["a"])).json()["resources"]["cpu"]
    assert parent["used"] == 0 and parent["subtree_used"] == 5000 and parent["children_owned"] == 4000
    # When org (which alice cannot see) is the tighter cap, it is never named.
    NamespaceUsage.objects.filter(namespace=ns).update(used=30000)
    b_ns = Namespace.objects.create(tenant=tree["b"], cluster=cluster, name="b-main")
    NamespaceUsage.objects.create(namespace=b_ns, resource="cpu", used=33000)
    report = api(alice).get(quota_url(tree["a_dev"])).json()["resources"]["cpu"]
    assert report["headroom"] == 1000 and report["limiting_tenant"] is None


def test_a_limit_never_drops_below_a_grandchild_limit_behind_a_child_without_one(api, operator, tree):
    # a has no cpu limit of its own, so only a/dev's 30000 stands below org.
    ResourcePlan.objects.filter(tenant=tree["a"], resource="cpu").update(limit=None)
    ResourcePlan.objects.create(tenant=tree["a_dev"], resource="cpu", owned=0, limit=30000)
    ResourcePlan.objects.filter(tenant=tree["b"], resource="cpu").update(owned=0, limit=16000)
    response = api(operator).put(quota_url(tree["org"]), {"cpu": {"owned": 20000, "limit": 20000}}, format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "quota_invalid" and problem["descendant_path"] == "org/a/dev"
    assert problem["descendant_limit"] == 30000 and problem["requested"] == 20000
    assert "below descendant 'org/a/dev' limit 30000" in problem["detail"]
    assert ResourcePlan.objects.get(tenant=tree["org"], resource="cpu").limit == 64000
    assert not AuditEvent.objects.filter(action="quota.update").exists()
    # At or above every limit below it, org's limit may come down.
    response = api(operator).put(quota_url(tree["org"]), {"cpu": {"owned": 20000, "limit": 30000}}, format="json")
    assert response.status_code == 200, response.content
