import pytest
from django.contrib.auth.models import Group

from tenants.models import AuditEvent, Membership, Namespace

pytestmark = pytest.mark.django_db


def members_url(tenant, effective=False):
    return f"/api/v1/tenants/{tenant.pk}/members/" + ("?effective=true" if effective else "")


def test_admin_adds_a_user_and_a_group(api, alice, make_user, tree):
    make_user("dave")
    client = api(alice)
    response = client.post(members_url(tree["a"]), {"user": "dave", "role": "viewer", "inherited": True},
                           format="json")
    assert response.status_code == 201, response.content
    assert response.json()["user"] == "dave" and response.json()["inherited"] is True
    response = client.post(members_url(tree["a_dev"]), {"group": "sre", "role": "member"}, format="json")
    assert response.status_code == 201 and response.json()["group"] == "sre"
    assert AuditEvent.objects.filter(action="membership.create").count() == 2


def test_effective_roles_say_where_they_come_from(api, alice, make_user, tree):
    erin = make_user("erin")
    Group.objects.create(name="sre").user_set.add(erin)
    Membership.objects.create(tenant=tree["a_dev"], group=Group.objects.get(name="sre"), role="viewer")
    entries = api(alice).get(members_url(tree["a_dev"], effective=True)).json()
    by_subject = {(e["subject"]["type"], e["subject"]["name"]): e for e in entries}
    assert by_subject[("user", "alice")]["origin"] == "inherited"
    assert by_subject[("user", "alice")]["from_tenant"]["path"] == "org/a"
    assert by_subject[("group", "sre")]["origin"] == "direct"
    assert by_subject[("group", "sre")]["subject"]["members"] == ["erin"]
    # And erin, through her group, now sees a/dev (only).
    assert [t["full_slug"] for t in api(erin).get("/api/v1/tenants/").json()["results"]] == ["org/a/dev"]


def test_a_member_may_grant_member_but_not_admin(api, bob, make_user, tree):
    make_user("dave")
    response = api(bob).post(members_url(tree["a"]), {"user": "dave", "role": "tenant-admin"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "role_escalation"
    assert not Membership.objects.filter(user__username="dave").exists()
    assert api(bob).post(members_url(tree["a"]), {"user": "dave", "role": "member"}, format="json").status_code == 201


def test_a_viewer_grants_nothing(api, make_user, tree):
    vera = make_user("vera")
    Membership.objects.create(tenant=tree["a"], user=vera, role="viewer")
    make_user("dave")
    response = api(vera).post(members_url(tree["a"]), {"user": "dave", "role": "viewer"}, format="json")
    assert response.status_code == 403


def test_the_last_admin_cannot_be_removed_or_demoted(api, alice, operator, tree):
    admin = Membership.objects.get(tenant=tree["a"], user=alice)
    response = api(operator).delete(f"/api/v1/memberships/{admin.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "last_admin"
    response = api(operator).patch(f"/api/v1/memberships/{admin.pk}/", {"role": "member"}, format="json")
    assert response.status_code == 409
    assert Membership.objects.get(pk=admin.pk).role == "tenant-admin"
    # With a second admin in place (inherited like the first, so a/dev keeps one too), the first may go.
    api(operator).post(members_url(tree["a"]), {"group": "a-admins", "role": "tenant-admin", "inherited": True},
                       format="json")
    assert api(operator).delete(f"/api/v1/memberships/{admin.pk}/").status_code == 204


def test_an_inherited_admin_above_counts_for_the_tenant_below(api, alice, make_user, tree):
    dave = make_user("dave")
    api(alice).post(members_url(tree["a_dev"]), {"user": "dave", "role": "tenant-admin"}, format="json")
    dave_binding = Membership.objects.get(tenant=tree["a_dev"], user=dave)
    assert api(alice).delete(f"/api/v1/memberships/{dave_binding.pk}/").status_code == 204


BAD_MEMBERS = [
    ({"role": "member"}, "exactly one"),
    ({"user": "bob", "group": "x", "role": "member"}, "exactly one"),
    ({"user": "nobody", "role": "member"}, "No active user 'nobody'"),
    ({"user": "bob", "role": "owner"}, "role"),
    ({"user": "bob", "role": "member"}, "already has a role"),
    ({"user": "bob", "role": "member", "inherited": "maybe"}, "inherited"),
    ({"group": "system:unauthenticated", "role": "member"}, "subject_reserved"),
    ({"group": "system:authenticated", "role": "viewer"}, "subject_reserved"),
    ({"group": "system:masters", "role": "tenant-admin"}, "subject_reserved"),
    ({"group": "system:serviceaccounts:kube-system", "role": "member"}, "subject_reserved"),
    ({"user": "system:anonymous", "role": "viewer"}, "subject_reserved"),
    ({"user": "system:kube-scheduler", "role": "viewer"}, "belong to Kubernetes itself"),
]


@pytest.mark.parametrize(("body", "message"), BAD_MEMBERS)
def test_bad_membership_requests_are_refused(api, alice, tree, body, message):
    before = list(Membership.objects.values_list("id", "role", "inherited"))
    groups = list(Group.objects.values_list("name", flat=True))
    response = api(alice).post(members_url(tree["a"]), body, format="json")
    assert response.status_code in (400, 409), response.content
    assert message in str(response.json())
    assert list(Membership.objects.values_list("id", "role", "inherited")) == before
    assert list(Group.objects.values_list("name", flat=True)) == groups


def test_a_member_cannot_bind_a_kubernetes_system_group(api, bob, tree, cluster):
    response = api(bob).post(members_url(tree["a"]), {"group": "system:unauthenticated", "role": "member"},
                             format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "subject_reserved" and problem["field"] == "group"
    assert "system:unauthenticated" in problem["detail"]
    assert not Group.objects.filter(name="system:unauthenticated").exists()
    assert not AuditEvent.objects.filter(action="membership.create").exists()


def test_operators_cannot_bind_kubernetes_system_subjects_either(api, operator, tree):
    for body in ({"group": "system:authenticated", "role": "viewer"}, {"user": "system:admin", "role": "viewer"}):
        response = api(operator).post(members_url(tree["a"]), body, format="json")
        assert response.status_code == 400 and response.json()["code"] == "subject_reserved"


def test_the_reserved_prefix_is_checked_on_the_name_kubernetes_sees(api, alice, settings, tree):
    # With a group prefix the RoleBinding names 'oidc:system:ops', which Kubernetes does not reserve.
    settings.KUBERNETES_GROUP_PREFIX = "oidc:"
    response = api(alice).post(members_url(tree["a"]), {"group": "system:ops", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.content
    # And a prefix that itself makes the name a system one is refused.
    settings.KUBERNETES_USER_PREFIX = "system:"
    response = api(alice).post(members_url(tree["a"]), {"user": "bob", "role": "viewer"}, format="json")
    assert response.status_code == 400 and "'system:bob'" in response.json()["detail"]


def test_a_system_group_bound_before_the_refusal_gets_no_role_binding(tree, cluster):
    from tenants.provisioning import desired
    from tenants.services.provisioning import namespace_facts

    Membership.objects.create(tenant=tree["a"], group=Group.objects.create(name="system:authenticated"),
                              role="member", inherited=True)
    namespace = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="a-dev")
    facts = namespace_facts(namespace)
    assert "system:authenticated" in {b.subject_name for b in facts.bindings}  # the row is still there
    subjects = [o["subjects"][0]["name"] for o in desired.desired_objects(facts) if o["kind"] == "RoleBinding"]
    assert sorted(subjects) == ["alice", "bob"]


@pytest.fixture
def dave_admin_of_a_only(make_user, tree):
    """dave: tenant-admin of a, not inherited (a/dev is not his); a member of group 'daves'."""
    dave = make_user("dave")
    Membership.objects.create(tenant=tree["a"], user=dave, role="tenant-admin", inherited=False)
    Group.objects.create(name="daves").user_set.add(dave)
    return dave


@pytest.mark.parametrize("body", [
    {"group": "daves", "role": "tenant-admin", "inherited": True},
    {"group": "daves", "role": "member", "inherited": True},
    {"user": "bob", "role": "viewer", "inherited": True},
], ids=["admin-to-own-group", "member-to-own-group", "viewer-to-another-user"])
def test_a_grant_that_covers_one_tenant_cannot_grant_an_inherited_role(api, dave_admin_of_a_only, tree, body):
    Membership.objects.filter(user__username="bob").delete()
    before = list(Membership.objects.values_list("id", "role", "inherited"))
    response = api(dave_admin_of_a_only).post(members_url(tree["a"]), body, format="json")
    assert response.status_code == 403, response.content
    problem = response.json()
    assert problem["code"] == "role_escalation" and problem["inherited"] is True
    assert problem["held_on_subtree"] is None and "does not extend to the tenants below" in problem["detail"]
    assert list(Membership.objects.values_list("id", "role", "inherited")) == before
    # The same grant without 'inherited' is his to give.
    response = api(dave_admin_of_a_only).post(members_url(tree["a"]), {**body, "inherited": False}, format="json")
    assert response.status_code == 201, response.content


def test_a_grant_that_covers_one_tenant_cannot_make_itself_inherited(api, dave_admin_of_a_only, tree):
    own = Membership.objects.get(user=dave_admin_of_a_only)
    response = api(dave_admin_of_a_only).patch(f"/api/v1/memberships/{own.pk}/", {"inherited": True},
                                               format="json")
    assert response.status_code == 403 and response.json()["code"] == "role_escalation"
    assert Membership.objects.get(pk=own.pk).inherited is False
    # Nor another binding, nor raise the role of an inherited one it did not make.
    bob = Membership.objects.get(tenant=tree["a"], user__username="bob")
    response = api(dave_admin_of_a_only).patch(f"/api/v1/memberships/{bob.pk}/", {"role": "tenant-admin"},
                                               format="json")
    assert response.status_code == 403
    assert Membership.objects.get(pk=bob.pk).role == "member"
    # Changing what stays within a (the role of bob's binding, made non-inherited) is still his to do.
    response = api(dave_admin_of_a_only).patch(f"/api/v1/memberships/{bob.pk}/",
                                               {"role": "tenant-admin", "inherited": False}, format="json")
    assert response.status_code == 200, response.content
    # And the a/dev tenant below stays out of his reach.
    assert api(dave_admin_of_a_only).get(f"/api/v1/tenants/{tree['a_dev'].pk}/").status_code == 404


def test_an_inherited_grant_is_limited_to_the_role_that_reaches_the_subtree(api, make_user, tree):
    # erin: admin of a only, and through group 'erins' an inherited member of a.
    erin = make_user("erin")
    Membership.objects.create(tenant=tree["a"], user=erin, role="tenant-admin", inherited=False)
    group = Group.objects.create(name="erins")
    group.user_set.add(erin)
    Membership.objects.create(tenant=tree["a"], group=group, role="member", inherited=True)
    make_user("dave")
    client = api(erin)
    response = client.post(members_url(tree["a"]), {"user": "dave", "role": "tenant-admin", "inherited": True},
                           format="json")
    assert response.status_code == 403 and response.json()["held_on_subtree"] == "member"
    response = client.post(members_url(tree["a"]), {"user": "dave", "role": "member", "inherited": True},
                           format="json")
    assert response.status_code == 201, response.content


def test_inherited_grants_work_for_roles_that_reach_the_subtree(api, alice, bob, make_user, operator, tree):
    make_user("dave")
    make_user("erin")
    make_user("fred")
    # bob's member role on a is inherited; alice's admin on a reaches a/dev from above; operators reach all.
    assert api(bob).post(members_url(tree["a"]), {"user": "dave", "role": "member", "inherited": True},
                         format="json").status_code == 201
    assert api(alice).post(members_url(tree["a_dev"]), {"user": "erin", "role": "tenant-admin", "inherited": True},
                           format="json").status_code == 201
    assert api(operator).post(members_url(tree["org"]), {"user": "fred", "role": "tenant-admin", "inherited": True},
                              format="json").status_code == 201


def test_an_inherited_admin_is_not_removed_while_a_tenant_below_has_no_other(api, alice, make_user, operator, tree):
    # a has a second admin, but only on a itself: alice's inherited binding is a/dev's only admin.
    api(operator).post(members_url(tree["a"]), {"group": "a-admins", "role": "tenant-admin"}, format="json")
    admin = Membership.objects.get(tenant=tree["a"], user=alice)
    for method, body in (("delete", None), ("patch", {"inherited": False}), ("patch", {"role": "member"})):
        response = getattr(api(operator), method)(f"/api/v1/memberships/{admin.pk}/", body, format="json")
        assert response.status_code == 409, (method, body, response.content)
        problem = response.json()
        assert problem["code"] == "last_admin" and problem["tenants"] == ["org/a/dev"]
        assert "'org/a/dev'" in problem["detail"]
    assert Membership.objects.filter(pk=admin.pk, role="tenant-admin", inherited=True).exists()
    # Once a/dev has an admin of its own, alice's binding may stop reaching it.
    make_user("dave")
    api(operator).post(members_url(tree["a_dev"]), {"user": "dave", "role": "tenant-admin"}, format="json")
    response = api(operator).patch(f"/api/v1/memberships/{admin.pk}/", {"inherited": False}, format="json")
    assert response.status_code == 200, response.content
    assert api(operator).delete(f"/api/v1/memberships/{admin.pk}/").status_code == 204
