"""The release pages: install through the schema form, problems as form errors, history, progress, 404 for others."""

from __future__ import annotations

import pytest
from django.test import Client

from appstore.models import Release, ReleaseRevision
from appstore.services import releases
from tenants.models import Operation

from .releases_support import demo_chart, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def webapp(operator):
    return {v: publish(demo_chart("webapp", v), actor=operator) for v in ("1.0.0", "1.1.0")}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def install(client, ns, version, *, name="web", values_yaml="", **fields):
    data = {"version": version.version, "namespace": ns.pk, "name": name, "values_yaml": values_yaml}
    data.update({f"value__{k}": v for k, v in fields.items()})
    return client.post(f"/store/apps/{version.app_id}/install/", data)


def installed(bob, team_ns, webapp) -> Release:
    response = install(login(bob), team_ns, webapp["1.0.0"], replicas=1)
    assert response.status_code == 302, response.content.decode()[:2000]
    release = Release.objects.get(name="web")
    releases.release_apply_run(operation_id=release.revisions.get().operation_id)
    return release


def test_the_install_form_is_generated_from_the_schema(bob, team_ns, webapp):
    page = login(bob).get(f"/store/apps/{webapp['1.0.0'].app_id}/install/?version=1.0.0")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="value__image"' in html and 'value="nginx:1.25"' in html  # default prefilled
    assert 'name="value__replicas"' in html and "Container image" in html  # description as help
    assert 'name="value__resources"' not in html  # objects go through the YAML box
    assert "team-a" in html


def test_install_through_the_form_creates_the_release_and_its_operation(bob, team_ns, webapp):
    response = install(login(bob), team_ns, webapp["1.0.0"], replicas=3, image="nginx:1.25",
                       values_yaml="service:\n  port: 8080\n")
    release = Release.objects.get(name="web")
    assert response.status_code == 302 and response["Location"] == f"/store/releases/{release.pk}/"
    assert release.user_values == {"replicas": 3, "service": {"port": 8080}}  # only what differs from the defaults
    revision = release.revisions.get()
    assert (revision.revision, revision.kind) == (1, "install")
    operation = Operation.objects.get(pk=revision.operation_id)
    assert operation.type == "appstore.release_apply" and release.locked_by_id == operation.pk

    page = login(bob).get(response["Location"])
    html = page.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html and "<progress" in html
    releases.release_apply_run(operation_id=operation.pk)
    html = login(bob).get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in html and "deployed" in html and "Install complete" in html
    assert "web: revision 1 deployed" in html  # the operation's message


def test_yaml_overrides_merge_over_the_generated_fields(bob, team_ns, webapp):
    install(login(bob), team_ns, webapp["1.0.0"], replicas=3, values_yaml="replicas: 4\n")
    assert Release.objects.get().user_values == {"replicas": 4}


def test_a_value_that_breaks_the_schema_is_a_form_error_and_nothing_is_stored(bob, team_ns, webapp):
    response = install(login(bob), team_ns, webapp["1.0.0"], replicas=0)
    html = response.content.decode()
    assert response.status_code == 400
    assert "schema_invalid" in html and "/replicas" in html
    assert not Release.objects.exists() and not Operation.objects.exists()
    response = install(login(bob), team_ns, webapp["1.0.0"], values_yaml="- not\n- a mapping\n")
    assert response.status_code == 400 and "YAML mapping" in response.content.decode()
    assert not Release.objects.exists()


def test_quota_exceeded_shows_its_message(bob, team_ns, webapp):
    response = install(login(bob), team_ns, webapp["1.0.0"], replicas=20,
                       values_yaml="resources:\n  requests: {cpu: '2', memory: 64Mi}\n")
    html = response.content.decode()
    assert response.status_code == 409 and "quota_exceeded" in html
    assert "more cpu; &#x27;org/a&#x27; has" in html
    assert not Release.objects.exists()


def test_the_namespace_select_offers_member_tenants_only(bob, charlie, team_ns, webapp):
    assert "team-a" not in login(charlie).get(f"/store/apps/{webapp['1.0.0'].app_id}/install/").content.decode()
    response = install(login(charlie), team_ns, webapp["1.0.0"])
    assert response.status_code == 400 and not Release.objects.exists()


def test_release_page_shows_history_and_the_actions_run_services(bob, team_ns, webapp):
    release = installed(bob, team_ns, webapp)
    client = login(bob)
    response = client.post(f"/store/releases/{release.pk}/upgrade/",
                           {"app_version": webapp["1.1.0"].pk, "values_yaml": "replicas: 2\n"})
    assert response.status_code == 302
    # a second change while the upgrade runs: release_locked, as a form error and a message
    locked = client.post(f"/store/releases/{release.pk}/uninstall/", {"confirm": "web"})
    assert locked.status_code == 409 and "release_locked" in locked.content.decode()
    releases.release_apply_run(operation_id=Release.objects.get().locked_by_id)

    html = client.get(f"/store/releases/{release.pk}/").content.decode()
    assert "Upgrade to 1.1.0 complete" in html and "Install complete" in html and "superseded" in html
    assert "bob" in html and "<progress" in html

    diff = client.get(f"/store/releases/{release.pk}/diff/?to_version={webapp['1.0.0'].pk}")
    assert diff.status_code == 200 and "<pre" in diff.content.decode()
    assert "nginx:1.27" in diff.content.decode() and "nginx:1.25" in diff.content.decode()

    assert client.post(f"/store/releases/{release.pk}/rollback/", {"revision": 1}).status_code == 302
    releases.release_apply_run(operation_id=Release.objects.get().locked_by_id)
    assert Release.objects.get().revisions.first().description == "Rolled back to 1"

    wrong = client.post(f"/store/releases/{release.pk}/uninstall/", {"confirm": "nope"})
    assert wrong.status_code == 400 and ReleaseRevision.objects.filter(kind="uninstall").count() == 0
    assert client.post(f"/store/releases/{release.pk}/uninstall/", {"confirm": "web"}).status_code == 302
    releases.release_apply_run(operation_id=Release.objects.get().locked_by_id)
    assert Release.objects.get().status == "uninstalled"

    listing = client.get("/store/releases/").content.decode()
    assert f"/store/releases/{release.pk}/" in listing


def test_charlie_gets_404_on_every_page_and_post_of_a_release_of_a(bob, charlie, team_ns, webapp):
    release = installed(bob, team_ns, webapp)
    client = login(charlie)
    for path in ("", "diff/", f"diff/?to_version={webapp['1.1.0'].pk}", "diff/?revision=1"):
        assert client.get(f"/store/releases/{release.pk}/{path}").status_code == 404, path
    for path, data in (("upgrade/", {"app_version": webapp["1.1.0"].pk}), ("rollback/", {"revision": 1}),
                       ("uninstall/", {"confirm": "web"}), ("", {}), ("diff/", {})):
        assert client.post(f"/store/releases/{release.pk}/{path}", data).status_code == 404, path
    assert f"/store/releases/{release.pk}/" not in client.get("/store/releases/").content.decode()
    assert Release.objects.get().revisions.count() == 1
