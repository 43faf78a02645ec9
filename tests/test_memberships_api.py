import pytest
from django.contrib.auth.models import Group

from tenants.models import AuditEvent, Membership

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
    # With a second admin in place, the first may go.
    api(operator).post(members_url(tree["a"]), {"group": "a-admins", "role": "tenant-admin"}, format="json")
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
]


@pytest.mark.parametrize(("body", "message"), BAD_MEMBERS)
def test_bad_membership_requests_are_refused(api, alice, tree, body, message):
    before = list(Membership.objects.values_list("id", "role", "inherited"))
    response = api(alice).post(members_url(tree["a"]), body, format="json")
    assert response.status_code in (400, 409), response.content
    assert message in str(response.json())
    assert list(Membership.objects.values_list("id", "role", "inherited")) == before
