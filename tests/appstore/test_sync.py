"""Repository sync against real servers: an OCI registry (helm push) and a Helm HTTP repository."""

from __future__ import annotations

import pytest
import yaml

from appstore.models import App, AppVersion, Repository
from appstore.services import repositories, sync
from backends import helm
from backends.errors import BackendPermanentError
from bluedock_portal.errors import InvalidInput
from tenants.models import AuditEvent, Operation
from tests.servers.chart_repo import ChartRepoServer
from tests.servers.registry import registry_server  # noqa: F401  (the session fixture)

from .charts import packaged, valid_chart

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed_chart(registry_server, tmp_path):  # noqa: F811
    """cachet 1.0.0, 1.1.0 and 2.0.0-rc.1 pushed with `helm push` to oci://<registry>/charts."""
    name = f"cachet-{tmp_path.name[-6:].lower().replace('_', '-')}".strip("-")
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        pushed = helm.push(packaged(tmp_path, name, version), f"oci://{registry_server.host}/charts", plain_http=True)
        assert pushed.endswith(f"charts/{name}:{version}")
    return name


def test_an_oci_chart_pushed_with_helm_appears_after_sync_and_a_second_sync_adds_nothing(
        registry_server, pushed_chart, operator):  # noqa: F811
    repo = repositories.repository_create(actor=operator, name="oci", kind="oci", url=registry_server.url,
                                          oci_repositories=[f"charts/{pushed_chart}"], plain_http=True)
    result = sync.repository_sync(repository=repo, actor=operator)
    assert result["created"] == 3
    app = App.objects.get(repository=repo, name=pushed_chart)
    assert sorted(app.versions.values_list("version", flat=True)) == ["1.0.0", "1.1.0", "2.0.0-rc.1"]
    assert app.latest_version.version == "1.1.0"  # newest non-prerelease
    version = app.versions.get(version="1.1.0")
    assert version.digest.startswith("sha256:") and version.values_schema["type"] == "object"
    assert version.source_url == f"oci://{registry_server.host}/charts/{pushed_chart}"
    counts = (App.objects.count(), AppVersion.objects.count())
    assert sync.repository_sync(repository=repo, actor=operator)["created"] == 0
    assert (App.objects.count(), AppVersion.objects.count()) == counts
    repo.refresh_from_db()
    assert repo.sync_status == "ok" and repo.last_synced_at is not None


def test_a_missing_oci_repository_is_a_clear_error_on_the_repository(registry_server, operator):  # noqa: F811
    repo = repositories.repository_create(actor=operator, name="oci", kind="oci", url=registry_server.url,
                                          oci_repositories=["charts/nothing-here"], plain_http=True)
    with pytest.raises(BackendPermanentError):
        sync.repository_sync(repository=repo)
    repo.refresh_from_db()
    assert repo.sync_status == "error" and "404" in repo.sync_message


@pytest.fixture
def http_repo(tmp_path):
    """A Helm HTTP repository with a hand-written index.yaml (a prerelease without its file, a
    non-SemVer version) + one .tgz, served on loopback."""
    server = ChartRepoServer(tmp_path / "www")
    root = server.root
    (root / "hello-1.0.0.tgz").write_bytes(valid_chart())
    index = {"apiVersion": "v1", "entries": {"hello": [
        {"apiVersion": "v2", "name": "hello", "version": "1.0.0", "urls": ["hello-1.0.0.tgz"], "digest": "d1",
         "description": "Hello", "keywords": ["web"]},
        {"apiVersion": "v2", "name": "hello", "version": "1.1.0-beta.1", "urls": ["hello-1.1.0-beta.1.tgz"]},
        {"apiVersion": "v2", "name": "hello", "version": "latest"}]}}
    (root / "index.yaml").write_text(yaml.safe_dump(index))
    yield root, server.url
    server.stop()


def test_an_http_repository_syncs_and_a_broken_index_keeps_what_was_synced(http_repo, operator):
    root, url = http_repo
    repo = repositories.repository_create(actor=operator, name="http", kind="helm_http", url=url)
    result = sync.repository_sync(repository=repo)
    assert (result["created"], result["skipped"]) == (2, 1)
    hello = App.objects.get(repository=repo, name="hello")
    assert hello.latest_version.version == "1.0.0" and hello.summary == "Hello"
    assert hello.versions.get(version="1.0.0").source_url == f"{url}/hello-1.0.0.tgz"
    (root / "index.yaml").write_text("entries: [this is not, an index")
    with pytest.raises(InvalidInput) as caught:
        sync.repository_sync(repository=repo)
    assert caught.value.code == "index_invalid"
    repo.refresh_from_db()
    assert repo.sync_status == "error" and "YAML" in repo.sync_message
    assert hello.versions.count() == 2
    assert AuditEvent.objects.filter(action="appstore.repository_sync", result="error").exists()


def test_sync_through_the_api_answers_202_with_an_operation_that_runs(http_repo, api, operator, alice,
                                                                      django_capture_on_commit_callbacks):
    _, url = http_repo
    repo = repositories.repository_create(actor=operator, name="http", kind="helm_http", url=url)
    with django_capture_on_commit_callbacks(execute=False):
        response = api(operator).post(f"/api/v1/repositories/{repo.pk}/sync/")
    assert response.status_code == 202 and response.json()["state"] == "queued"
    assert api(alice).post(f"/api/v1/repositories/{repo.pk}/sync/").status_code == 403
    sync.repository_sync_run(operation_id=response.json()["id"])
    operation = Operation.objects.get(pk=response.json()["id"])
    assert operation.state == "succeeded" and operation.result["created"] == 2
    listed = api(alice).get("/api/v1/apps/", {"q": "hello"}).json()["results"]
    assert [a["name"] for a in listed] == ["hello"]


def test_credentials_are_kept_secret(api, operator):
    response = api(operator).post("/api/v1/repositories/", {
        "name": "private", "kind": "helm_http", "url": "https://charts.example.test", "username": "ci",
        "password": "hunter2-secret"}, format="json")
    assert response.status_code == 201, response.json()
    assert "password" not in response.json() and response.json()["has_credentials"] is True
    repo = Repository.objects.get(pk=response.json()["id"])
    assert "hunter2" not in repo.password_encrypted and repo.password == "hunter2-secret"
    event = AuditEvent.objects.get(action="appstore.repository_create")
    assert "hunter2" not in str(event.after)
