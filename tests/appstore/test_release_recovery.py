"""Retry a failed release, recover a stuck one: API, portal page and admin console, with who may do it,
what a bad request gets, and the audit trail. The worker is called directly, as Celery would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from appstore.models import Release
from appstore.services import release_recovery, releases
from tenants.models import AuditEvent, Operation
from tenants.services import clusters

from .releases_support import objects_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def installing(team_ns, shop, bob):
    """A release whose install operation is queued (locked, not yet run)."""
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop", app_version=shop["1.0.0"])
    return release, operation


def stall(operation, *, seconds):
    """The worker took the operation, then went silent ``seconds`` ago (it died or hangs)."""
    then = timezone.now() - timedelta(seconds=seconds)
    Operation.objects.filter(pk=operation.pk).update(
        state=Operation.State.RUNNING, started_at=then, heartbeat_at=then, attempts=1
    )


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_stuck_install_is_recovered_with_a_reason_audited_and_then_retried_to_convergence(
    api, alice, bob, installing, settings, team_ns
):
    release, operation = installing
    stall(operation, seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 5)
    response = api(alice).post(
        f"/api/v1/releases/{release.pk}/recover/", {"reason": "worker node rebooted during the install"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["locked_by"]) == ("failed", None)
    operation.refresh_from_db()
    assert (operation.state, operation.error_code) == ("failed", "recovered")
    assert operation.error_message == "Recovered by alice: worker node rebooted during the install"
    event = AuditEvent.objects.get(action="appstore.release_recover")
    assert (event.actor_name, event.reason, event.tenant_id) == (
        "alice",
        "worker node rebooted during the install",
        team_ns.tenant_id,
    )
    assert event.before == {"status": "pending-install", "locked_by": operation.pk, "operation_state": "running"}
    assert event.after["status"] == "failed" and "no progress since" in event.after["why"]
    assert release.revisions.get().status == "failed"
    # The dead worker's task, delivered again, finds nothing to do.
    assert releases.release_apply_run(operation_id=operation.pk) is None

    log = api(bob).get(f"/api/v1/releases/{release.pk}/events/").json()["log"]
    assert log[-1]["text"] == "recovered by alice: worker node rebooted during the install"

    response = api(bob).post(f"/api/v1/releases/{release.pk}/retry/", format="json")
    assert response.status_code == 202 and Operation.objects.get(pk=response.json()["id"]).params["retry"] is True
    releases.release_apply_run(operation_id=response.json()["id"])
    release.refresh_from_db()
    assert (release.status, release.current_revision, release.revisions.count()) == ("deployed", 1, 1)
    backend = clusters.cluster_backend(team_ns.cluster)
    assert objects_of(backend, release) == {("Deployment", "shop-web"), ("Service", "shop-web")}

    again = api(bob).post(f"/api/v1/releases/{release.pk}/retry/", format="json")
    assert again.status_code == 409 and again.json()["code"] == "release_not_failed"
    assert again.json()["release_status"] == "deployed"


def test_an_operation_that_still_makes_progress_cannot_be_recovered(api, alice, installing, settings):
    release, operation = installing
    stall(operation, seconds=5)
    response = api(alice).post(f"/api/v1/releases/{release.pk}/recover/", {"reason": "impatient"}, format="json")
    body = response.json()
    assert response.status_code == 409 and body["code"] == "operation_active"
    assert (body["operation"], body["state"]) == (operation.pk, "running") and body["recoverable_after"]
    assert Release.objects.get(pk=release.pk).locked_by_id == operation.pk
    assert not AuditEvent.objects.filter(action="appstore.release_recover").exists()
    # A queued operation no worker has taken for too long is stuck as well.
    later = operation.created_at + timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 1)
    Operation.objects.filter(pk=operation.pk).update(state=Operation.State.QUEUED, heartbeat_at=None)
    recovered = release_recovery.release_recover(actor=alice, release=release, reason="no worker", now=later)
    assert recovered.status == "failed" and recovered.locked_by_id is None


@pytest.mark.parametrize(
    ("who", "path", "body", "status", "code"),
    [
        ("bob", "recover/", {"reason": "stuck"}, 403, "role_required"),  # members may retry, not recover
        ("vera", "recover/", {"reason": "stuck"}, 403, "role_required"),
        ("vera", "retry/", {}, 403, "role_required"),
        ("charlie", "recover/", {"reason": "stuck"}, 404, "not_found"),
        ("charlie", "retry/", {}, 404, "not_found"),
        ("charlie", "resources/", None, 404, "not_found"),
        ("charlie", "events/", None, 404, "not_found"),
        ("alice", "recover/", {}, 400, "reason_required"),
        ("alice", "recover/", {"reason": "   "}, 400, "reason_required"),
        ("alice", "recover/", {"reason": "x" * 501}, 400, "reason_too_long"),
        ("alice", "retry/", {}, 409, "release_locked"),  # the install is still in flight
    ],
)
def test_who_may_retry_and_recover_and_what_bad_requests_get(
    request, api, installing, settings, who, path, body, status, code
):
    release, operation = installing
    stall(operation, seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 5)
    client = api(request.getfixturevalue(who))
    url = f"/api/v1/releases/{release.pk}/{path}"
    response = client.get(url) if body is None else client.post(url, body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    if status == 403:
        assert response.json()["required_role"] in {"member", "tenant-admin"}
    # Nothing changed: still locked by the same running operation, and no recovery in the audit trail.
    assert Release.objects.get(pk=release.pk).locked_by_id == operation.pk
    assert Operation.objects.get(pk=operation.pk).state == "running"
    assert not AuditEvent.objects.filter(action__in=["appstore.release_recover", "appstore.release_retry"]).exists()


def test_recovering_a_release_that_is_not_locked_is_a_conflict(api, alice, installing):
    release, operation = installing
    releases.release_apply_run(operation_id=operation.pk)
    response = api(alice).post(f"/api/v1/releases/{release.pk}/recover/", {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "release_not_locked"


def test_the_release_page_offers_recover_to_admins_and_retry_to_members(alice, bob, vera, installing, settings):
    release, operation = installing
    stall(operation, seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 5)
    recover_url = f"/store/releases/{release.pk}/recover/"
    assert recover_url in login(alice).get(f"/store/releases/{release.pk}/").content.decode()
    assert "no progress since" in login(alice).get(f"/store/releases/{release.pk}/").content.decode()
    assert recover_url not in login(bob).get(f"/store/releases/{release.pk}/").content.decode()

    empty = login(alice).post(recover_url, {"reason": ""})
    assert empty.status_code == 400 and "reason_required" in empty.content.decode()
    assert Release.objects.get(pk=release.pk).locked_by_id == operation.pk
    denied = login(bob).post(recover_url, {"reason": "stuck"})
    assert denied.status_code == 403 and "role_required" in denied.content.decode()

    response = login(alice).post(recover_url, {"reason": "the worker pod was evicted"})
    assert response.status_code == 302
    page = login(bob).get(response["Location"]).content.decode()
    assert f"/store/releases/{release.pk}/retry/" in page and "The last operation failed" in page
    assert "recovered by alice: the worker pod was evicted" in page
    assert f"/store/releases/{release.pk}/retry/" not in login(vera).get(response["Location"]).content.decode()
    assert login(vera).post(f"/store/releases/{release.pk}/retry/").status_code == 403

    assert login(bob).post(f"/store/releases/{release.pk}/retry/").status_code == 302
    retry = Operation.objects.get(pk=Release.objects.get(pk=release.pk).locked_by_id)
    assert retry.params["retry"] is True
    releases.release_apply_run(operation_id=retry.pk)
    assert Release.objects.get(pk=release.pk).status == "deployed"
    # Retrying what succeeded is refused on the page as in the API.
    again = login(bob).post(f"/store/releases/{release.pk}/retry/")
    assert again.status_code == 409 and "release_not_failed" in again.content.decode()


def test_charlie_gets_404_for_the_retry_and_recover_pages(charlie, installing):
    release, _ = installing
    for path in ("retry/", "recover/"):
        assert login(charlie).post(f"/store/releases/{release.pk}/{path}", {"reason": "x"}).status_code == 404


def test_operators_recover_and_retry_from_the_admin_console(operator, installing, settings):
    release, operation = installing
    stall(operation, seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 5)
    client = login(operator)
    url = "/admin/appstore/release/"
    assert client.get(url).status_code == 200
    chosen = {"action": "recover", "_selected_action": [release.pk]}
    page = client.post(url, chosen)
    assert page.status_code == 200 and "Reason (audited)" in page.content.decode()
    empty = client.post(url, {**chosen, "apply": "Recover", "reason": " "})
    assert empty.status_code == 400 and Release.objects.get(pk=release.pk).locked_by_id == operation.pk

    done = client.post(url, {**chosen, "apply": "Recover", "reason": "celery worker lost"})
    assert done.status_code == 302
    event = AuditEvent.objects.get(action="appstore.release_recover")
    assert (event.actor_name, event.reason) == ("operator", "celery worker lost")
    assert Release.objects.get(pk=release.pk).status == "failed"

    assert client.post(url, {"action": "retry", "_selected_action": [release.pk]}).status_code == 302
    retry = Release.objects.get(pk=release.pk).locked_by
    assert retry is not None and retry.params["retry"] is True and retry.actor == operator
