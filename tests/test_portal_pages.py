"""The server-rendered portal: pages, forms, and that nobody sees past their tenants."""

import pytest
from django.test import Client

from tenants.models import AuditEvent, Membership, Namespace, NamespaceUsage, Operation, ResourcePlan, Role, Tenant
from tenants.services.audit import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def login():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def text(response) -> str:
    return response.content.decode()


def plans_of(tenant):
    return list(ResourcePlan.objects.filter(tenant=tenant).order_by("resource")
                .values_list("resource", "owned", "limit", "borrow_limit", "lend_limit"))


# --- tree -------------------------------------------------------------------------------------------

def test_tree_shows_visible_tenants_indented_with_roles(login, alice, tree):
    page = text(login(alice).get("/"))
    assert "Team A" in page and "A Dev" in page and "tenant-admin" in page
    assert "Team B" not in page and ">Org<" not in page
    assert f'style="--level: 0"><a href="/tenants/{tree["a"].pk}/"' in page
    assert f'style="--level: 1"><a href="/tenants/{tree["a_dev"].pk}/"' in page


def test_tree_search_filters_by_name_or_slug(login, alice, tree):
    page = text(login(alice).get("/", {"q": "dev"}))
    assert "A Dev" in page and "Team A" not in page
    assert "No tenant matches" in text(login(alice).get("/", {"q": "zzz"}))


def test_tree_ignores_api_only_filters(login, alice, tree):
    assert login(alice).get("/", {"parent": "junk", "depth": "x"}).status_code == 200


def test_user_without_tenants_sees_the_empty_state(login, make_user, tree):
    page = text(login(make_user("dave")).get("/"))
    assert "not a member of any tenant yet" in page and "Team" not in page


def test_tree_query_count_does_not_grow_with_the_tree(login, alice, tree, django_assert_max_num_queries):
    client = login(alice)
    client.get("/")
    with django_assert_max_num_queries(6) as small:
        client.get("/")
    parent = Tenant.objects.get(pk=tree["a"].pk)
    for i in range(20):
        Tenant.objects.add_child(parent, instance=Tenant(parent=tree["a"], name=f"Child {i}", slug=f"c{i}",
                                                         full_slug=f"org/a/c{i}"))
        parent = Tenant.objects.get(pk=tree["a"].pk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert "Child 19" in text(client.get("/"))


def test_anonymous_is_sent_to_login(client, tree):
    response = client.get(f"/tenants/{tree['a'].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- detail -----------------------------------------------------------------------------------------

def test_detail_shows_quota_members_children_and_buttons_for_admins(login, alice, tree):
    response = login(alice).get(f"/tenants/{tree['a'].pk}/")
    page = text(response)
    assert response.status_code == 200
    assert 'class="bar"' in page and "millicores" in page and "16000" in page and "32000" in page
    assert "unlimited" in page  # memory has no limit anywhere
    assert "alice" in page and "bob" in page and "A Dev" in page
    assert "New child tenant" in page and "Add member" in page and "New namespace" in page
    # alice is not an admin of org, so a's own plan is not hers to change.
    assert "Edit quota plan" not in page


def test_breadcrumbs_show_only_visible_ancestors(login, alice, tree):
    page = text(login(alice).get(f"/tenants/{tree['a_dev'].pk}/"))
    crumbs = page.split('class="crumbs"')[1].split("</nav>")[0]
    assert "Team A" in crumbs and "Org" not in crumbs
    assert "inherited from <code>org/a</code>" in page and "Edit quota plan" in page


def test_member_sees_no_admin_buttons(login, bob, tree):
    page = text(login(bob).get(f"/tenants/{tree['a'].pk}/"))
    assert "New child tenant" not in page and "New namespace" not in page and ">Change<" not in page
    assert "Add member" in page  # members may grant roles up to their own


def test_quota_panel_flags_over_limit(login, alice, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="dev-ns")
    NamespaceUsage.objects.create(namespace=ns, resource="cpu", used=40000)
    page = text(login(alice).get(f"/tenants/{tree['a'].pk}/"))
    assert "over limit" in page and 'class="over"' in page and "-8000" in page
    assert "dev-ns" not in page  # a's own namespaces only; dev-ns belongs to a/dev


# --- charlie sees nothing of a ------------------------------------------------------------------------

A_PAGES = ["/tenants/{a}/", "/tenants/{a}/audit/", "/tenants/{a}/children/new/", "/tenants/{a}/quota/",
           "/tenants/{a}/members/new/", "/tenants/{a}/namespaces/new/", "/tenants/{dev}/quota/"]


@pytest.mark.parametrize("url", A_PAGES)
def test_member_of_other_tenant_gets_404_on_every_page_and_form(login, charlie, tree, url):
    client = login(charlie)
    url = url.format(a=tree["a"].pk, dev=tree["a_dev"].pk)
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "X", "slug": "x", "user": "charlie", "role": "viewer",
                             "cpu__owned": "1"}).status_code == 404


def test_member_of_other_tenant_cannot_reach_as_memberships_or_namespaces(login, charlie, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-ns")
    bob_binding = Membership.objects.get(tenant=tree["a"], user__username="bob")
    client = login(charlie)
    for url in (f"/tenants/{tree['a'].pk}/members/{bob_binding.pk}/",
                f"/tenants/{tree['a'].pk}/members/{bob_binding.pk}/remove/",
                f"/tenants/{tree['a'].pk}/namespaces/{ns.pk}/delete/",
                # their own tenant in the URL does not unlock a's objects either
                f"/tenants/{tree['b'].pk}/members/{bob_binding.pk}/remove/",
                f"/tenants/{tree['b'].pk}/namespaces/{ns.pk}/delete/"):
        assert client.post(url, {"confirm": "a-ns", "role": "viewer"}).status_code == 404, url
    assert Namespace.objects.filter(pk=ns.pk).exists() and Membership.objects.filter(pk=bob_binding.pk).exists()


def test_member_of_other_tenant_sees_nothing_of_a_in_the_tree(login, charlie, tree):
    page = text(login(charlie).get("/"))
    assert "Team B" in page
    assert "Team A" not in page and "org/a" not in page and "A Dev" not in page


# --- create a child tenant --------------------------------------------------------------------------

def test_admin_creates_a_child_and_is_redirected_with_a_message(login, alice, tree):
    client = login(alice)
    response = client.post(f"/tenants/{tree['a'].pk}/children/new/", {"name": "A Prod", "slug": "prod"})
    child = Tenant.objects.get(full_slug="org/a/prod")
    assert response.status_code == 302 and response["Location"] == f"/tenants/{child.pk}/"
    assert "Created tenant A Prod" in text(client.get(response["Location"]))


def test_bad_slug_is_a_field_error_and_nothing_is_created(login, alice, tree):
    before = Tenant.objects.count()
    response = login(alice).post(f"/tenants/{tree['a'].pk}/children/new/", {"name": "X", "slug": "Not OK"})
    assert response.status_code == 200 and "DNS-1123" in text(response) and 'role="alert"' in text(response)
    assert Tenant.objects.count() == before


def test_service_error_is_shown_on_the_form(login, alice, tree):
    before = Tenant.objects.count()
    response = login(alice).post(f"/tenants/{tree['a'].pk}/children/new/", {"name": "Dup", "slug": "dev"})
    assert response.status_code == 400
    assert "&#x27;org/a/dev&#x27; already exists" in text(response)
    assert Tenant.objects.count() == before


def test_member_posting_the_create_form_is_refused_by_the_service(login, bob, tree):
    client = login(bob)
    assert "tenant-admin role here" in text(client.get(f"/tenants/{tree['a'].pk}/children/new/"))
    response = client.post(f"/tenants/{tree['a'].pk}/children/new/", {"name": "X", "slug": "x"})
    assert response.status_code == 403 and "You need the tenant-admin role" in text(response)
    assert not Tenant.objects.filter(slug="x").exists()


# --- memberships ------------------------------------------------------------------------------------

def test_admin_adds_a_user_and_a_group(login, alice, charlie, tree):
    client = login(alice)
    url = f"/tenants/{tree['a'].pk}/members/new/"
    assert client.post(url, {"user": "charlie", "role": "viewer"}).status_code == 302
    assert client.post(url, {"group": "sre", "role": "member", "inherited": "on"}).status_code == 302
    m = Membership.objects.get(tenant=tree["a"], group__name="sre")
    assert m.role == Role.MEMBER and m.inherited
    assert Membership.objects.get(tenant=tree["a"], user=charlie).role == Role.VIEWER


@pytest.mark.parametrize("data, error", [
    ({"user": "nobody", "role": "viewer"}, "No active user &#x27;nobody&#x27;"),
    ({"user": "charlie", "group": "sre", "role": "viewer"}, "exactly one"),
    ({"role": "viewer"}, "exactly one"),
    ({"user": "bob", "role": "viewer"}, "already has a role"),
])
def test_bad_member_input_shows_an_error_and_stores_nothing(login, alice, tree, data, error):
    before = Membership.objects.count()
    response = login(alice).post(f"/tenants/{tree['a'].pk}/members/new/", data)
    assert response.status_code in (200, 400, 409) and error in text(response)
    assert Membership.objects.count() == before


def test_member_cannot_grant_a_role_above_their_own(login, bob, charlie, tree):
    client = login(bob)
    form = text(client.get(f"/tenants/{tree['a'].pk}/members/new/"))
    assert 'value="tenant-admin"' not in form and 'value="member"' in form
    response = client.post(f"/tenants/{tree['a'].pk}/members/new/", {"user": "charlie", "role": "tenant-admin"})
    assert response.status_code == 200 and "Select a valid choice" in text(response)
    assert not Membership.objects.filter(user=charlie, tenant=tree["a"]).exists()


def test_admin_changes_and_removes_a_membership(login, alice, bob, tree):
    client = login(alice)
    binding = Membership.objects.get(tenant=tree["a"], user=bob)
    response = client.post(f"/tenants/{tree['a'].pk}/members/{binding.pk}/", {"role": "viewer"})
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.role == Role.VIEWER and not binding.inherited
    assert client.post(f"/tenants/{tree['a'].pk}/members/{binding.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=binding.pk).exists()


def test_last_admin_cannot_be_removed(login, alice, tree):
    binding = Membership.objects.get(tenant=tree["a"], user=alice)
    response = login(alice).post(f"/tenants/{tree['a'].pk}/members/{binding.pk}/remove/")
    assert response.status_code == 409 and "must keep at least one admin" in text(response)
    assert Membership.objects.filter(pk=binding.pk, role=Role.TENANT_ADMIN).exists()


def test_member_cannot_change_memberships(login, bob, alice, tree):
    binding = Membership.objects.get(tenant=tree["a"], user=alice)
    response = login(bob).post(f"/tenants/{tree['a'].pk}/members/{binding.pk}/", {"role": "viewer"})
    assert response.status_code == 403
    binding.refresh_from_db()
    assert binding.role == Role.TENANT_ADMIN


def test_inherited_bindings_are_changed_where_they_were_made(login, alice, bob, tree):
    binding = Membership.objects.get(tenant=tree["a"], user=bob)
    assert login(alice).get(f"/tenants/{tree['a_dev'].pk}/members/{binding.pk}/").status_code == 404


# --- quota plan -------------------------------------------------------------------------------------

def test_parent_admin_sets_a_child_plan(login, alice, tree):
    response = login(alice).post(f"/tenants/{tree['a_dev'].pk}/quota/", {
        "cpu__owned": "4000", "cpu__limit": "8000", "cpu__borrow_limit": "", "cpu__lend_limit": "1000",
        "memory__owned": "0", "pods__owned": "0", "gpu__owned": "0"})
    assert response.status_code == 302, text(response)
    assert plans_of(tree["a_dev"]) == [("cpu", 4000, 8000, None, 1000)]  # unchanged resources get no row
    assert AuditEvent.objects.filter(action="quota.update", tenant=tree["a_dev"]).count() == 1


def test_blank_clears_a_nullable_field(login, alice, tree):
    ResourcePlan.objects.create(tenant=tree["a_dev"], resource="cpu", owned=1000, limit=2000)
    response = login(alice).post(f"/tenants/{tree['a_dev'].pk}/quota/", {
        "cpu__owned": "1000", "cpu__limit": "", "memory__owned": "0", "pods__owned": "0", "gpu__owned": "0"})
    assert response.status_code == 302
    assert plans_of(tree["a_dev"]) == [("cpu", 1000, None, None, None)]


@pytest.mark.parametrize("value, error", [
    ("abc", "must be a whole number"),
    ("1.5", "must be a whole number"),
    ("-1", "must be between 0 and 2147483647"),
    ("2147483648", "must be between 0 and 2147483647"),
    ("", "This field is required"),
])
def test_bad_quota_values_are_field_errors_and_change_nothing(login, alice, tree, value, error):
    before = plans_of(tree["a_dev"])
    response = login(alice).post(f"/tenants/{tree['a_dev'].pk}/quota/", {
        "cpu__owned": value, "cpu__limit": "8000", "memory__owned": "0", "pods__owned": "0", "gpu__owned": "0"})
    page = text(response)
    assert response.status_code == 200 and error in page and 'role="alert"' in page
    assert 'aria-invalid="true"' in page
    assert plans_of(tree["a_dev"]) == before and not AuditEvent.objects.filter(action="quota.update").exists()


def test_quota_rule_violation_is_a_form_error(login, alice, tree):
    response = login(alice).post(f"/tenants/{tree['a_dev'].pk}/quota/", {
        "cpu__owned": "0", "cpu__limit": "40000", "memory__owned": "0", "pods__owned": "0", "gpu__owned": "0"})
    assert response.status_code == 400 and "exceeds the limit 32000" in text(response)
    assert plans_of(tree["a_dev"]) == []


def test_tenant_admin_cannot_change_their_own_plan(login, alice, tree):
    client = login(alice)
    assert "Only the parent tenant" in text(client.get(f"/tenants/{tree['a'].pk}/quota/"))
    response = client.post(f"/tenants/{tree['a'].pk}/quota/", {
        "cpu__owned": "16000", "cpu__limit": "64000", "memory__owned": "0", "pods__owned": "0", "gpu__owned": "0"})
    assert response.status_code == 403
    assert plans_of(tree["a"]) == [("cpu", 16000, 32000, None, None)]


# --- namespaces -------------------------------------------------------------------------------------

def test_admin_creates_and_deletes_a_namespace_with_confirmation(login, alice, tree, cluster):
    client = login(alice)
    response = client.post(f"/tenants/{tree['a'].pk}/namespaces/new/", {"cluster": cluster.pk, "name": "team-a"})
    assert response.status_code == 302
    ns = Namespace.objects.get(name="team-a", tenant=tree["a"])
    url = f"/tenants/{tree['a'].pk}/namespaces/{ns.pk}/delete/"
    response = client.post(url, {"confirm": "team-b"})
    assert response.status_code == 400 and "confirm with its exact name" in text(response)
    assert Namespace.objects.filter(pk=ns.pk).exists()
    assert client.post(url, {"confirm": "team-a"}).status_code == 302
    # Marked at once; a task removes it from the cluster and then from the portal.
    assert Namespace.objects.get(pk=ns.pk).state == "deleting"
    assert Operation.objects.filter(type="namespace.delete", target_id=str(ns.pk)).exists()


def test_namespace_page_shows_sync_state_objects_and_queues_a_reconcile(login, bob, charlie, tree, cluster):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web", sync_state="error",
                                  sync_message="apply ResourceQuota: cannot reach the API server")
    url = f"/tenants/{tree['a'].pk}/namespaces/{ns.pk}/"
    client = login(bob)
    page = text(client.get(url))
    assert "cannot reach the API server" in page and "Reconcile now" in page and "Nothing applied yet" in page
    response = client.post(url, follow=True)
    operation = Operation.objects.get(type="namespace.reconcile", target_id=str(ns.pk))
    assert f"Reconcile queued (operation #{operation.pk})" in text(response)
    assert 'http-equiv="refresh"' in text(response)  # the page follows the operation's progress
    assert login(charlie).get(url).status_code == 404
    assert login(charlie).post(url).status_code == 404
    assert Operation.objects.count() == 1


def test_clusters_page_is_for_operators(login, alice, operator, cluster):
    from tenants.models import ClusterNode

    ClusterNode.objects.create(cluster=cluster, name="node-1", allocatable={"cpu": 4000, "memory": 16384, "pods": 110},
                               requested={"cpu": 3000, "memory": 1024, "pods": 3}, ready=True)
    page = text(login(operator).get("/clusters/"))
    assert "node-1" in page and "3000 / 4000 m" in page
    assert login(alice).get("/clusters/").status_code == 404


def test_namespace_name_errors(login, alice, tree, cluster):
    client = login(alice)
    Namespace.objects.create(tenant=tree["b"], cluster=cluster, name="taken")
    url = f"/tenants/{tree['a'].pk}/namespaces/new/"
    assert "DNS-1123" in text(client.post(url, {"cluster": cluster.pk, "name": "Bad_Name"}))
    response = client.post(url, {"cluster": cluster.pk, "name": "taken"})
    assert response.status_code == 400 and "already exists" in text(response)
    assert not Namespace.objects.filter(tenant=tree["a"]).exists()


def test_member_cannot_create_namespaces(login, bob, tree, cluster):
    response = login(bob).post(f"/tenants/{tree['a'].pk}/namespaces/new/", {"cluster": cluster.pk, "name": "x"})
    assert response.status_code == 403 and not Namespace.objects.exists()


# --- audit ------------------------------------------------------------------------------------------

def test_audit_lists_the_subtree_newest_first_and_pages(login, alice, tree):
    for i in range(55):
        audit_record(actor=alice, action=f"test.a{i}", target=tree["a_dev"], tenant=tree["a_dev"])
    audit_record(actor=alice, action="test.b", target=tree["b"], tenant=tree["b"])
    client = login(alice)
    first = text(client.get(f"/tenants/{tree['a'].pk}/audit/"))
    assert first.index("test.a54") < first.index("test.a53") and "test.b" not in first
    assert "Page 1 of 2" in first and "test.a4<" not in first
    assert "test.a0<" in text(client.get(f"/tenants/{tree['a'].pk}/audit/", {"page": 2}))
