"""Charts synced from repositories install end to end: a real OCI registry (helm push) and a Helm HTTP
repository on loopback (helm package), installed through the API into the sandbox cluster.

The operation runner is called directly (``release_apply_run``), as a Celery worker would.
"""

from __future__ import annotations

import hashlib
import secrets
import tarfile

import pytest

from appstore.models import AppVersion, ChartArchive, Release
from appstore.releases import render
from appstore.services import release_recovery, releases, repositories, sync
from backends import helm
from backends.errors import BackendTransientError
from tenants.models import Operation
from tenants.services import clusters
from tests.servers.chart_repo import ChartRepoServer
from tests.servers.registry import registry_server  # noqa: F401  (the session fixture)

from .charts import chart_files, member, packaged, tgz, valid_chart
from .releases_support import objects_of

pytestmark = pytest.mark.django_db


def install(client, ns, version, name="web", **values):
    return client.post("/api/v1/releases/", {"namespace": ns.pk, "name": name, "app_version": version.pk,
                                             "values": values}, format="json")


def run(response) -> Operation:
    assert response.status_code == 202, response.json()
    releases.release_apply_run(operation_id=response.json()["id"])
    return Operation.objects.get(pk=response.json()["id"])


# --- OCI ----------------------------------------------------------------------------------
def test_a_chart_pushed_with_helm_is_synced_through_the_api_and_installed_into_the_sandbox(
        registry_server, tmp_path, api, operator, bob, team_ns, django_capture_on_commit_callbacks):  # noqa: F811
    name = f"store-{tmp_path.name[-6:].lower().replace('_', '-')}".strip("-")
    archive = packaged(tmp_path, name, "1.0.0")
    helm.push(archive, f"oci://{registry_server.host}/charts", plain_http=True)
    repo = repositories.repository_create(actor=operator, name="oci", kind="oci", url=registry_server.url,
                                          oci_repositories=[f"charts/{name}"], plain_http=True)
    with django_capture_on_commit_callbacks(execute=False):
        response = api(operator).post(f"/api/v1/repositories/{repo.pk}/sync/")
    assert response.status_code == 202
    sync.repository_sync_run(operation_id=response.json()["id"])
    assert Operation.objects.get(pk=response.json()["id"]).state == "succeeded"

    version = AppVersion.objects.get(app__repository=repo, app__name=name, version="1.0.0")
    assert version.archive_id == hashlib.sha256(archive.read_bytes()).hexdigest()  # stored at sync, digest-checked
    operation = run(install(api(bob), team_ns, version, replicas=2))
    assert operation.state == "succeeded", operation.error_message
    release = Release.objects.get(name="web")
    backend = clusters.cluster_backend(team_ns.cluster)
    assert objects_of(backend, release) == {("Deployment", "web-web")}
    deployment = backend.get("apps/v1", "Deployment", "web-web", "team-a")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["schedulingGates"] == [{"name": "bluedock.io/admission"}]
    assert deployment["metadata"]["labels"][render.TENANT_LABEL] == str(team_ns.tenant_id)


def test_an_oci_chart_over_the_size_limit_is_skipped_and_nothing_is_stored(
        registry_server, tmp_path, operator, settings):  # noqa: F811
    name = f"big-{tmp_path.name[-6:].lower().replace('_', '-')}".strip("-")
    noise = secrets.token_hex(4000)  # random: packs to well over the 1 KiB limit below
    helm.push(packaged(tmp_path, name, "1.0.0", extra={"files/noise.txt": noise.encode()}),
              f"oci://{registry_server.host}/charts", plain_http=True)
    settings.APPSTORE_MAX_CHART_BYTES = 1024
    repo = repositories.repository_create(actor=operator, name="oci", kind="oci", url=registry_server.url,
                                          oci_repositories=[f"charts/{name}"], plain_http=True)
    result = sync.repository_sync(repository=repo, actor=operator)
    assert (result["created"], result["skipped"]) == (0, 1)
    repo.refresh_from_db()
    assert "chart_too_large" in repo.sync_message
    assert not ChartArchive.objects.exists() and not AppVersion.objects.exists()


# --- Helm HTTP ----------------------------------------------------------------------------
@pytest.fixture
def chart_repo(tmp_path):
    server = ChartRepoServer(tmp_path / "www")
    yield server
    server.stop()


def _synced(chart_repo, operator, name="hello", version="1.0.0", tenant=None):
    repo = repositories.repository_create(actor=operator, name=f"http-{tenant.slug if tenant else 'global'}",
                                          kind="helm_http", url=chart_repo.url, tenant=tenant)
    sync.repository_sync(repository=repo, actor=operator)
    return AppVersion.objects.get(app__repository=repo, app__name=name, version=version)


def test_the_first_install_fetches_checks_and_stores_the_archive_and_the_next_install_does_not_fetch(
        chart_repo, tmp_path, api, operator, bob, team_ns):
    archive = packaged(tmp_path, "hello", "1.0.0")
    filename = chart_repo.publish(archive)
    version = _synced(chart_repo, operator)
    assert version.archive_id is None and chart_repo.fetches(filename) == 0  # sync reads the index only

    response = install(api(bob), team_ns, version, replicas=2)
    assert response.json()["state"] == "queued"
    operation = run(response)
    assert operation.state == "succeeded", operation.error_message
    assert chart_repo.fetches(filename) == 1
    version.refresh_from_db()
    assert version.archive_id == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert version.values_schema["required"] == ["replicas", "image"]  # now known to forms and pre-flight
    backend = clusters.cluster_backend(team_ns.cluster)
    assert objects_of(backend, Release.objects.get(name="web")) == {("Deployment", "web-web")}
    assert backend.get("apps/v1", "Deployment", "web-web", "team-a")["spec"]["replicas"] == 2

    # The archive is stored: the next install renders in the request (a schema error answers at once).
    response = install(api(bob), team_ns, version, name="web2", replicas=0)
    assert response.status_code == 400 and response.json()["code"] == "schema_invalid"
    assert run(install(api(bob), team_ns, version, name="web2")).state == "succeeded"
    assert chart_repo.fetches(filename) == 1


def test_an_unreachable_repository_is_retried_and_the_install_converges_when_it_is_back(
        chart_repo, tmp_path, bob, operator, team_ns):
    filename = chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    version = _synced(chart_repo, operator)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version)
    chart_repo.stop()
    with pytest.raises(BackendTransientError, match="cannot reach"):
        releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    release.refresh_from_db()
    assert operation.state == "queued" and operation.message.startswith("will retry: cannot reach")
    assert (release.status, release.locked_by_id) == ("pending-install", operation.pk)

    chart_repo.start()  # the same port
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    assert operation.state == "succeeded" and chart_repo.fetches(filename) == 1
    assert objects_of(clusters.cluster_backend(team_ns.cluster), release) == {("Deployment", "web-web")}


def test_an_unreachable_repository_on_the_last_attempt_fails_with_a_specific_code(chart_repo, tmp_path, bob,
                                                                                  operator, team_ns):
    chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    version = _synced(chart_repo, operator)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version)
    chart_repo.stop()
    releases.release_apply_run(operation_id=operation.pk, final_attempt=True)
    operation.refresh_from_db()
    release.refresh_from_db()
    assert (operation.state, operation.error_code) == ("failed", "chart_repo_unavailable")
    assert (release.status, release.locked_by_id) == ("failed", None)


def _traversal() -> bytes:
    return tgz(chart_files(), members=[member("hello/../../etc/evil.yaml")])


def _symlink() -> bytes:
    return tgz(chart_files(), members=[member("hello/templates/link.yaml", type=tarfile.SYMTYPE,
                                              linkname="/etc/passwd")])


def _bomb() -> bytes:
    return tgz({**chart_files(), "files/zeros.txt": b"0" * 4_000_000})


# (what is served, what the index announces, the code the install fails with)
BROKEN = [
    ("digest_mismatch", lambda: valid_chart(values={"replicas": 1, "image": "evil"}),
     hashlib.sha256(valid_chart()).hexdigest(), "chart_digest_mismatch"),
    ("traversal", _traversal, None, "chart_path_traversal"),
    ("symlink", _symlink, None, "chart_symlink"),
    ("bomb", _bomb, None, "chart_bomb"),
    ("oversized", lambda: b"\x1f\x8b" + hashlib.sha512(b"x").digest() * 9000, None, "chart_too_large"),
    ("not_gzip", lambda: b"<html>not a chart</html>", None, "chart_archive_invalid"),
    ("other_chart_inside", lambda: valid_chart("hello", "9.9.9"), None, "chart_archive_mismatch"),
    ("library_chart", lambda: valid_chart(chart={"type": "library"}), None, "chart_library"),
    ("defaults_fail_its_schema", lambda: valid_chart(values={"replicas": 0, "image": "nginx"}), None,
     "chart_values_invalid"),
    ("invalid_schema", lambda: valid_chart(schema={"type": 12}), None, "chart_schema_invalid"),
]


@pytest.mark.parametrize(("served", "announced", "code"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_a_broken_or_tampered_archive_fails_the_install_with_its_reason_and_nothing_is_stored_or_applied(
        chart_repo, bob, operator, team_ns, served, announced, code):
    chart_repo.publish(served(), name="hello", version="1.0.0", digest=announced)
    version = _synced(chart_repo, operator)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version)
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    release.refresh_from_db()
    assert (operation.state, operation.error_code) == ("failed", code), operation.error_message
    assert (release.status, release.locked_by_id) == ("failed", None)
    assert release.revisions.get().status == "failed" and release.revisions.get().manifest == ""
    version.refresh_from_db()
    assert version.archive_id is None and not ChartArchive.objects.exists()
    assert objects_of(clusters.cluster_backend(team_ns.cluster), release) == set()


def test_values_that_fail_the_schema_found_in_the_fetched_archive_fail_the_install_before_anything_is_applied(
        chart_repo, tmp_path, bob, operator, team_ns):
    chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    version = _synced(chart_repo, operator)
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version,
                                                  values={"replicas": 0})  # the schema is not known yet
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    assert (operation.state, operation.error_code) == ("failed", "schema_invalid")
    assert "/replicas" in operation.error_message
    assert ChartArchive.objects.count() == 1  # the archive itself was fine: kept for the next attempt
    assert objects_of(clusters.cluster_backend(team_ns.cluster), release) == set()


def test_a_missing_archive_fails_with_the_repository_answer(chart_repo, tmp_path, bob, operator, team_ns):
    filename = chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    version = _synced(chart_repo, operator)
    (chart_repo.root / filename).unlink()
    _, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version)
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    assert (operation.state, operation.error_code) == ("failed", "chart_repo_rejected")
    assert "HTTP 404" in operation.error_message


def test_a_retry_after_the_repository_is_fixed_fetches_again_and_converges(chart_repo, tmp_path, bob, operator,
                                                                            team_ns):
    good = packaged(tmp_path, "hello", "1.0.0").read_bytes()
    filename = chart_repo.publish(good)
    version = _synced(chart_repo, operator)
    (chart_repo.root / filename).write_bytes(valid_chart(values={"replicas": 1, "image": "evil"}))
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="web", app_version=version)
    releases.release_apply_run(operation_id=operation.pk)
    operation.refresh_from_db()
    assert operation.error_code == "chart_digest_mismatch"
    (chart_repo.root / filename).write_bytes(good)
    retry = release_recovery.release_retry(actor=bob, release=Release.objects.get(pk=release.pk))
    releases.release_apply_run(operation_id=retry.pk)
    retry.refresh_from_db()
    assert retry.state == "succeeded", retry.error_message
    release.refresh_from_db()
    assert (release.status, release.current_revision) == ("deployed", 1)


def test_a_member_of_another_tenant_can_neither_install_a_tenant_scoped_synced_chart_nor_trigger_a_fetch(
        chart_repo, tmp_path, api, operator, bob, charlie, team_ns, tree):
    filename = chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    version_of_b = _synced(chart_repo, operator, tenant=tree["b"])
    response = install(api(bob), team_ns, version_of_b)
    assert response.status_code == 400 and "does not exist" in str(response.json())
    response = install(api(charlie), team_ns, version_of_b)
    assert response.status_code == 404
    assert chart_repo.fetches(filename) == 0 and not Release.objects.exists()
    assert api(bob).get(f"/api/v1/apps/{version_of_b.app_id}/").status_code == 404


def test_an_oci_version_synced_without_its_archive_is_fetched_from_the_registry_on_first_install(
        registry_server, tmp_path, api, operator, bob, team_ns):  # noqa: F811
    name = f"old-{tmp_path.name[-6:].lower().replace('_', '-')}".strip("-")
    helm.push(packaged(tmp_path, name, "1.0.0"), f"oci://{registry_server.host}/charts", plain_http=True)
    repo = repositories.repository_create(actor=operator, name="oci", kind="oci", url=registry_server.url,
                                          oci_repositories=[f"charts/{name}"], plain_http=True)
    sync.repository_sync(repository=repo, actor=operator)
    version = AppVersion.objects.get(app__repository=repo)
    AppVersion.objects.filter(pk=version.pk).update(archive=None)  # as versions synced before archives were kept
    ChartArchive.objects.all().delete()
    operation = run(install(api(bob), team_ns, AppVersion.objects.get(pk=version.pk)))
    assert operation.state == "succeeded", operation.error_message
    assert AppVersion.objects.get(pk=version.pk).archive_id is not None


def test_an_upgrade_to_an_unfetched_version_is_deferred_and_a_diff_fetches_in_the_request(
        chart_repo, tmp_path, api, operator, bob, team_ns):
    chart_repo.publish(packaged(tmp_path, "hello", "1.0.0"))
    v110 = chart_repo.publish(packaged(tmp_path, "hello", "1.1.0", values={"replicas": 3, "image": "nginx:1.28"}))
    v120 = chart_repo.publish(packaged(tmp_path, "hello", "1.2.0", values={"replicas": 4, "image": "nginx:1.29"}))
    version = _synced(chart_repo, operator)
    client = api(bob)
    assert run(install(client, team_ns, version)).state == "succeeded"
    release = Release.objects.get()
    newer = {v.version: v for v in AppVersion.objects.filter(app=version.app)}

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/", {"to_version": newer["1.1.0"].pk})
    assert diff.status_code == 200 and "+  replicas: 3\n" in diff.json()["manifest"]
    assert chart_repo.fetches(v110) == 1 and AppVersion.objects.get(pk=newer["1.1.0"].pk).archive_id

    response = client.post(f"/api/v1/releases/{release.pk}/upgrade/", {"app_version": newer["1.2.0"].pk},
                           format="json")
    assert response.status_code == 202 and chart_repo.fetches(v120) == 0  # deferred to the worker
    assert run(response).state == "succeeded"
    assert chart_repo.fetches(v120) == 1
    backend = clusters.cluster_backend(team_ns.cluster)
    assert backend.get("apps/v1", "Deployment", "web-web", "team-a")["spec"]["replicas"] == 4
    release.refresh_from_db()
    assert (release.current_version.version, release.current_revision) == ("1.2.0", 2)
