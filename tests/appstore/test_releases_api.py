"""The releases API: 202 + Operation, history, diff, locks, problems — and charlie sees nothing."""

from __future__ import annotations

import json

import pytest

from appstore.models import Release
from appstore.services import releases
from tenants.models import Namespace
from tenants.services import clusters

from .releases_support import demo_chart, objects_of, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def webapp(operator):
    return {v: publish(demo_chart("webapp", v), actor=operator) for v in ("1.0.0", "1.1.0")}


def install(client, ns, version, **values):
    return client.post("/api/v1/releases/", {"namespace": ns.pk, "name": "web", "app_version": version.pk,
                                             "values": values}, format="json")


def run_operation(response):
    assert response.status_code == 202, response.json()
    return releases.release_apply_run(operation_id=response.json()["id"])


def test_a_member_installs_upgrades_diffs_rolls_back_and_uninstalls_a_demo_chart(api, bob, team_ns, webapp):
    client = api(bob)
    response = install(client, team_ns, webapp["1.0.0"], replicas=1)
    body = response.json()
    assert response.status_code == 202 and body["type"] == "appstore.release_apply" and body["state"] == "queued"
    run_operation(response)
    release = Release.objects.get(name="web")
    detail = client.get(f"/api/v1/releases/{release.pk}/").json()
    assert (detail["status"], detail["version"], detail["user_values"]) == ("deployed", "1.0.0", {"replicas": 1})
    backend = clusters.cluster_backend(team_ns.cluster)
    assert objects_of(backend, release) == {("Deployment", "web-webapp"), ("Service", "web-webapp")}

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/",
                      {"to_version": webapp["1.1.0"].pk, "values": json.dumps({"replicas": 2})}).json()
    assert diff["to_version"] == "1.1.0"
    assert {"path": "/image", "op": "changed", "from": "nginx:1.25", "to": "nginx:1.27"} in diff["effective_values"]
    assert "-  replicas: 1\n" in diff["manifest"] and "+  replicas: 2\n" in diff["manifest"]

    response = client.post(f"/api/v1/releases/{release.pk}/upgrade/",
                           {"app_version": webapp["1.1.0"].pk, "values": {"replicas": 2}}, format="json")
    assert response.status_code == 202
    locked = client.post(f"/api/v1/releases/{release.pk}/rollback/", {"revision": 1}, format="json")
    assert locked.status_code == 409 and locked.json()["code"] == "release_locked"
    assert locked.json()["operation"] == response.json()["id"]
    run_operation(response)
    image = backend.get("apps/v1", "Deployment", "web-webapp", "team-a")["spec"]["template"]["spec"]["containers"]
    assert image[0]["image"] == "nginx:1.27"

    run_operation(client.post(f"/api/v1/releases/{release.pk}/rollback/", {}, format="json"))
    revisions = client.get(f"/api/v1/releases/{release.pk}/revisions/").json()
    assert [(r["revision"], r["kind"], r["status"], r["version"]) for r in revisions] == [
        (3, "rollback", "deployed", "1.0.0"), (2, "upgrade", "superseded", "1.1.0"),
        (1, "install", "superseded", "1.0.0")]
    assert revisions[0]["description"] == "Rolled back to 1" and revisions[0]["user_values"] == {"replicas": 1}

    run_operation(client.delete(f"/api/v1/releases/{release.pk}/"))
    assert objects_of(backend, release) == set()
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["status"] == "uninstalled"


def test_charlie_can_neither_see_nor_install_read_or_diff_a_release_of_tenant_a(api, bob, charlie, team_ns, webapp):
    run_operation(install(api(bob), team_ns, webapp["1.0.0"]))
    release = Release.objects.get()
    client = api(charlie)
    assert client.get("/api/v1/releases/").json()["results"] == []
    for path in ("", "revisions/", "diff/", f"diff/?to_version={webapp['1.1.0'].pk}", "diff/?revision=1"):
        assert client.get(f"/api/v1/releases/{release.pk}/{path}").status_code == 404, path
    for path in ("upgrade/", "rollback/", "retry/", "recover/"):
        assert client.post(f"/api/v1/releases/{release.pk}/{path}", {}, format="json").status_code == 404, path
    assert client.delete(f"/api/v1/releases/{release.pk}/").status_code == 404
    response = install(client, team_ns, webapp["1.0.0"])
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Release.objects.count() == 1
    # bob sees his own release in the list
    assert [r["name"] for r in api(bob).get("/api/v1/releases/").json()["results"]] == ["web"]


def test_problems_name_the_facts(api, bob, team_ns, webapp, tree):
    client = api(bob)
    response = install(client, team_ns, webapp["1.0.0"], replicas=0, image="")
    assert response.status_code == 400 and response.json()["code"] == "schema_invalid"
    assert sorted(e["path"] for e in response.json()["errors"]) == ["/image", "/replicas"]

    response = install(client, team_ns, webapp["1.0.0"], replicas=20,
                       resources={"requests": {"cpu": "2", "memory": "64Mi"}})
    body = response.json()
    assert response.status_code == 409 and body["code"] == "quota_exceeded"
    assert {k: body[k] for k in ("tenant", "tenant_path", "resource", "requested", "used", "limit")} == {
        "tenant": tree["a"].pk, "tenant_path": "org/a", "resource": "cpu", "requested": 40000, "used": 0,
        "limit": 32000}
    assert not Release.objects.exists()

    other = Namespace.objects.create(tenant=tree["b"], cluster=team_ns.cluster, name="team-b")
    assert install(client, other, webapp["1.0.0"]).status_code == 404
