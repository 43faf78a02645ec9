"""Who sees which apps, and who may publish and review: the permission table of appstore/permissions.py."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from appstore import permissions
from appstore.charts import archive
from appstore.charts.index import record_from_meta
from appstore.models import App, AppRole, AppVersion, Category, Repository
from appstore.services import review, uploads
from appstore.services.sync import catalog_apply
from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied

from .charts import valid_chart

pytestmark = pytest.mark.django_db


def _published(tenant, actor, name="teamapp", version="1.0.0"):
    """A version uploaded by ``actor`` for ``tenant`` and taken through review by an operator."""
    data = valid_chart(name, version)
    info = archive.inspect(data)
    checked = {"summary": {"images": [], "has_crds": False, "cluster_scoped_kinds": []}, "report": {}}
    v = uploads.chart_store(repository=None, tenant=tenant, data=data, info=info, checked=checked, actor=actor,
                            publish=True)
    return v


@pytest.fixture
def global_app(operator):
    repo = Repository.objects.create(name="public", kind="helm_http", url="https://charts.example.test")
    record, _ = record_from_meta({"name": "nginx", "version": "1.0.0", "description": "web server"})
    catalog_apply(repository=repo, records=[record])
    return App.objects.get(repository=repo)


def test_a_member_of_another_tenant_cannot_see_a_tenant_scoped_app(api, tree, alice, bob, charlie, global_app):
    version = _published(tree["a"], alice)
    app_id = version.app_id
    names = {user.username: sorted(a["name"] for a in api(user).get("/api/v1/apps/").json()["results"])
             for user in (alice, bob, charlie)}
    assert names == {"alice": ["nginx", "teamapp"], "bob": ["nginx", "teamapp"], "charlie": ["nginx"]}
    assert api(charlie).get(f"/api/v1/apps/{app_id}/").status_code == 404
    assert api(charlie).get(f"/api/v1/versions/{version.pk}/").status_code == 404
    assert api(charlie).get(f"/api/v1/apps/{app_id}/versions/").status_code == 404
    assert api(charlie).get("/api/v1/apps/", {"tenant": tree["a"].pk}).json()["results"] == []
    repos = [r["name"] for r in api(charlie).get("/api/v1/repositories/").json()["results"]]
    assert repos == ["public"]
    assert api(charlie).get(f"/store/apps/{app_id}/").status_code == 404


def test_a_subtenant_member_sees_the_parent_tenants_apps(api, tree, alice, make_user):
    from tenants.models import Membership, Role

    dev = make_user("devon")
    Membership.objects.create(tenant=tree["a_dev"], user=dev, role=Role.MEMBER)
    _published(tree["a"], alice)
    assert [a["name"] for a in api(dev).get("/api/v1/apps/").json()["results"]] == ["teamapp"]


def test_drafts_are_seen_by_publishers_and_reviewers_only(api, upload, tree, alice, bob, dana):
    draft = upload(alice, tree["a"], valid_chart()).json()
    assert api(bob).get(f"/api/v1/versions/{draft['id']}/").status_code == 404
    assert api(alice).get(f"/api/v1/versions/{draft['id']}/").status_code == 200
    assert api(dana).get(f"/api/v1/versions/{draft['id']}/").status_code == 200


def test_filters_q_category_and_tenant(api, tree, alice, global_app):
    _published(tree["a"], alice)
    web = Category.objects.create(slug="web", name="Web")
    global_app.categories.add(web)
    get = lambda **q: [a["name"] for a in api(alice).get("/api/v1/apps/", q).json()["results"]]  # noqa: E731
    assert get(q="web server") == ["nginx"]
    assert get(q="WEB") == ["nginx", "teamapp"]  # summary of nginx, keyword "web" of teamapp
    assert get(category="web") == ["nginx"]
    assert get(tenant=tree["a"].pk) == ["teamapp"]


def test_the_app_list_costs_a_constant_number_of_queries(api, tree, alice, global_app):
    client = api(alice)
    client.get("/api/v1/apps/")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/apps/")
    for i in range(5):
        _published(tree["a"], alice, name=f"app{i}")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/apps/").json()["results"]) == 6
    assert len(many) == len(few)


# (user, tenant key or None for platform) -> (can_publish, can_review)
TABLE = [
    ("operator", "a", True, True),
    ("operator", None, True, True),
    ("alice", "a", True, False),          # tenant-admin publishes, does not review by default
    ("alice", "a_dev", True, False),      # inherited tenant-admin
    ("alice", None, False, False),
    ("bob", "a", False, False),           # member
    ("charlie", "a", False, False),       # another tenant's admin
    ("dana", "a", False, True),           # AppRole reviewer on a
    ("dana", "a_dev", False, True),       # ... covers the subtree
    ("dana", "b", False, False),
    ("erin", "b", True, False),           # AppRole publisher on org covers b
    ("erin", None, False, False),
    ("frank", "b", False, True),          # platform reviewer
    ("frank", None, False, True),
]


@pytest.mark.parametrize(("username", "where", "publish", "review_"), TABLE)
def test_permission_table(request, tree, make_user, operator, alice, bob, charlie, dana, username, where, publish,
                          review_):
    users = {"operator": operator, "alice": alice, "bob": bob, "charlie": charlie, "dana": dana}
    if username == "erin":
        users["erin"] = make_user("erin")
        AppRole.objects.create(user=users["erin"], role=AppRole.Role.PUBLISHER, tenant=tree["org"])
    if username == "frank":
        users["frank"] = make_user("frank")
        AppRole.objects.create(user=users["frank"], role=AppRole.Role.REVIEWER, tenant=None)
    tenant = tree[where] if where else None
    user = users[username]
    assert permissions.can_publish(user, tenant) is publish
    assert permissions.can_review(user, tenant) is review_


def test_the_review_workflow_end_to_end(api, upload, tree, alice, dana, bob):
    version = upload(alice, tree["a"], valid_chart()).json()
    url = f"/api/v1/versions/{version['id']}"
    assert api(dana).post(f"{url}/approve/").json()["code"] == "review_state_invalid"  # still a draft
    assert api(bob).post(f"{url}/submit/").status_code == 404  # bob cannot even see drafts
    assert api(alice).post(f"{url}/submit/").json()["review_state"] == "submitted"
    assert api(alice).post(f"{url}/approve/").status_code == 403  # publishers do not review their own
    rejected = api(dana).post(f"{url}/reject/", {"comment": ""}, format="json")
    assert rejected.status_code == 400 and rejected.json()["code"] == "comment_required"
    assert api(dana).post(f"{url}/reject/", {"comment": "add a README section"}, format="json").json()[
        "review_state"] == "rejected"
    assert api(alice).post(f"{url}/submit/").json()["review_state"] == "submitted"
    assert api(dana).post(f"{url}/approve/", {"comment": "ok"}, format="json").json()["review_state"] == "approved"
    assert api(bob).get("/api/v1/apps/").json()["results"] == []  # not published yet
    assert api(alice).post(f"{url}/publish/").json()["review_state"] == "published"
    app = App.objects.get(pk=version["app"])
    assert app.latest_version_id == version["id"]
    assert [a["name"] for a in api(bob).get("/api/v1/apps/").json()["results"]] == ["hello"]
    assert api(dana).post(f"{url}/suspend/").json()["status"] == "suspended"
    app.refresh_from_db()
    assert app.latest_version_id is None  # suspended versions are not offered for new installs
    assert api(dana).post(f"{url}/activate/").json()["status"] == "active"
    assert api(dana).post(f"{url}/deprecate/", {"deprecated": True}, format="json").json()["deprecated"] is True
    actions = list(AppVersion.objects.get(pk=version["id"]).decisions.values_list("action", flat=True))
    assert actions == ["upload", "submit", "reject", "submit", "approve", "publish", "suspend", "activate",
                       "deprecate"]


def test_latest_is_the_newest_published_non_prerelease(tree, alice, operator):
    for v in ("1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"):
        _published(tree["a"], alice, version=v)
    app = App.objects.get(name="teamapp")
    assert app.latest_version.version == "1.10.0"
    review.version_set_status(version=app.latest_version, actor=operator, status=AppVersion.Status.SUSPENDED)
    app.refresh_from_db()
    assert app.latest_version.version == "1.9.0"


def test_service_errors_are_specific(tree, alice, operator):
    version = _published(tree["a"], alice)
    with pytest.raises(Conflict):
        review.version_submit(version=version, actor=alice)
    with pytest.raises(InvalidInput):
        review.version_reject(version=version, actor=operator, comment=" ")
    with pytest.raises(PermissionDenied):
        review.version_set_status(version=version, actor=alice, status=AppVersion.Status.SUSPENDED)


def test_suspending_an_app_hides_it_from_the_store_but_not_from_its_reviewers(api, tree, alice, bob, dana):
    version = _published(tree["a"], alice)
    assert api(bob).post(f"/api/v1/apps/{version.app_id}/suspend/").status_code == 403
    assert api(dana).post(f"/api/v1/apps/{version.app_id}/suspend/").json()["state"] == "suspended"
    assert api(bob).get("/api/v1/apps/").json()["results"] == []
    assert [a["state"] for a in api(dana).get("/api/v1/apps/").json()["results"]] == ["suspended"]
    assert api(dana).post(f"/api/v1/apps/{version.app_id}/activate/").json()["state"] == "active"
    assert len(api(bob).get("/api/v1/apps/").json()["results"]) == 1
