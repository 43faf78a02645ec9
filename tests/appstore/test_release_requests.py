"""Release requests under retries and concurrency: Idempotency-Key, name reuse after uninstall, quota races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from appstore.models import AppVersion, Release, ReleaseRevision
from appstore.services import release_recovery, releases
from bluedock_portal.errors import ServiceError
from tenants.models import Namespace, Operation
from tenants.services import clusters

from .releases_support import demo_chart, objects_of, publish

pytestmark = pytest.mark.django_db


def install(client, ns, version, *, name="web", key=None, **values):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/releases/", {"namespace": ns.pk, "name": name, "app_version": version.pk,
                                             "values": values}, format="json", **headers)


def run(response_or_operation) -> Operation:
    pk = response_or_operation.json()["id"] if hasattr(response_or_operation, "json") else response_or_operation.pk
    releases.release_apply_run(operation_id=pk)
    return Operation.objects.get(pk=pk)


@pytest.fixture
def webapp(operator):
    return {v: publish(demo_chart("webapp", v), actor=operator) for v in ("1.0.0", "1.1.0")}


# --- Idempotency-Key ----------------------------------------------------------------------
def test_the_same_key_and_body_answer_the_same_operation_even_after_it_ran(api, bob, team_ns, webapp):
    client = api(bob)
    first = install(client, team_ns, webapp["1.0.0"], key="install-web-1", replicas=1)
    again = install(client, team_ns, webapp["1.0.0"], key="install-web-1", replicas=1)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert Release.objects.count() == 1 and ReleaseRevision.objects.count() == 1
    assert Operation.objects.filter(type="appstore.release_apply").count() == 1
    assert run(first).state == "succeeded"
    late = install(client, team_ns, webapp["1.0.0"], key="install-web-1", replicas=1)
    assert (late.status_code, late.json()["id"], late.json()["state"]) == (202, first.json()["id"], "succeeded")
    # Without a key the same body is a new request: the name is taken now.
    assert install(client, team_ns, webapp["1.0.0"], replicas=1).json()["code"] == "release_name_taken"


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(api, bob, team_ns, webapp):
    client = api(bob)
    first = install(client, team_ns, webapp["1.0.0"], key="k-1", replicas=1)
    other = install(client, team_ns, webapp["1.0.0"], key="k-1", replicas=2)
    assert other.status_code == 422
    body = other.json()
    assert (body["code"], body["operation"]) == ("idempotency_key_reused", first.json()["id"])
    assert other["Content-Type"].startswith("application/problem+json")
    release = Release.objects.get()
    assert release.user_values == {"replicas": 1} and release.revisions.count() == 1
    # A key answers one request of any kind: reusing it for the uninstall is refused too.
    run(first)
    response = api(bob).delete(f"/api/v1/releases/{release.pk}/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 422 and response.json()["code"] == "idempotency_key_reused"
    assert Release.objects.get().status == "deployed"


def test_upgrade_rollback_and_uninstall_replay_their_first_operation(api, bob, team_ns, webapp):
    client = api(bob)
    run(install(client, team_ns, webapp["1.0.0"], replicas=1))
    release = Release.objects.get()
    url = f"/api/v1/releases/{release.pk}"
    body = {"app_version": webapp["1.1.0"].pk, "values": {"replicas": 2}}
    upgrade = client.post(f"{url}/upgrade/", body, format="json", HTTP_IDEMPOTENCY_KEY="up-1")
    # The retry arrives while the first is still in flight: the same operation, not release_locked.
    replay = client.post(f"{url}/upgrade/", body, format="json", HTTP_IDEMPOTENCY_KEY="up-1")
    assert (upgrade.status_code, replay.status_code, replay.json()["id"]) == (202, 202, upgrade.json()["id"])
    run(upgrade)
    rollback = client.post(f"{url}/rollback/", {"revision": 1}, format="json", HTTP_IDEMPOTENCY_KEY="rb-1")
    run(rollback)
    assert client.post(f"{url}/rollback/", {"revision": 1}, format="json",
                       HTTP_IDEMPOTENCY_KEY="rb-1").json()["id"] == rollback.json()["id"]
    uninstall = client.delete(f"{url}/", HTTP_IDEMPOTENCY_KEY="rm-1")
    run(uninstall)
    assert client.delete(f"{url}/", HTTP_IDEMPOTENCY_KEY="rm-1").json()["id"] == uninstall.json()["id"]
    assert list(release.revisions.order_by("revision").values_list("kind", flat=True)) == [
        "install", "upgrade", "rollback", "uninstall"]


@pytest.mark.parametrize("key", ["x" * 129, "two words", "clé", ""], ids=["too_long", "space", "non_ascii", "empty"])
def test_a_malformed_idempotency_key_is_refused_and_nothing_is_created(api, bob, team_ns, webapp, key):
    response = install(api(bob), team_ns, webapp["1.0.0"], key=key)
    if key == "":  # an empty header is no key at all
        assert response.status_code == 202
        return
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_invalid"
    assert not Release.objects.exists() and not Operation.objects.exists()


def test_a_member_of_another_tenant_reusing_a_key_gets_only_his_own_answer(api, bob, charlie, team_ns, webapp,
                                                                            tree, sandbox_cluster):
    first = install(api(bob), team_ns, webapp["1.0.0"], key="shared-key")
    assert first.status_code == 202
    response = install(api(charlie), team_ns, webapp["1.0.0"], key="shared-key")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "operation" not in response.json()
    team_b = Namespace.objects.create(tenant=tree["b"], cluster=sandbox_cluster, name="team-b",
                                      state=Namespace.State.ACTIVE)
    own = install(api(charlie), team_b, webapp["1.0.0"], key="shared-key")
    assert own.status_code == 202 and own.json()["id"] != first.json()["id"]
    assert api(charlie).get(f"/api/v1/operations/{first.json()['id']}/").status_code == 404


# --- name reuse after uninstall -------------------------------------------------------------
def test_a_name_is_reusable_after_uninstall_and_the_old_history_stays_readable(api, bob, team_ns, webapp):
    client = api(bob)
    run(install(client, team_ns, webapp["1.0.0"], replicas=1))
    release = Release.objects.get()
    taken = install(client, team_ns, webapp["1.1.0"])
    assert taken.status_code == 409 and taken.json()["code"] == "release_name_taken"
    run(client.delete(f"/api/v1/releases/{release.pk}/"))

    again = install(client, team_ns, webapp["1.1.0"], replicas=2)
    assert run(again).state == "succeeded"
    assert Release.objects.count() == 1
    detail = client.get(f"/api/v1/releases/{release.pk}/").json()
    assert (detail["status"], detail["version"], detail["current_revision"], detail["user_values"]) == (
        "deployed", "1.1.0", 3, {"replicas": 2})
    history = [(r["revision"], r["kind"], r["status"], r["version"])
               for r in client.get(f"/api/v1/releases/{release.pk}/revisions/").json()]
    assert history == [(3, "install", "deployed", "1.1.0"), (2, "uninstall", "uninstalled", "1.0.0"),
                       (1, "install", "superseded", "1.0.0")]
    backend = clusters.cluster_backend(team_ns.cluster)
    assert objects_of(backend, release) == {("Deployment", "web-webapp"), ("Service", "web-webapp")}
    # The old revisions are still a rollback target of the same app.
    assert run(client.post(f"/api/v1/releases/{release.pk}/rollback/", {"revision": 1},
                           format="json")).state == "succeeded"


def test_reusing_a_name_for_another_app_cannot_roll_back_into_the_old_one(api, bob, team_ns, webapp, shop):
    client = api(bob)
    run(install(client, team_ns, webapp["1.0.0"]))
    release = Release.objects.get()
    run(client.delete(f"/api/v1/releases/{release.pk}/"))
    assert run(install(client, team_ns, shop["1.0.0"], replicas=1)).state == "succeeded"
    release.refresh_from_db()
    assert release.app_id == shop["1.0.0"].app_id
    response = client.post(f"/api/v1/releases/{release.pk}/rollback/", {"revision": 1}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "revision_other_app"
    assert objects_of(clusters.cluster_backend(team_ns.cluster), release) == {("Deployment", "web-web"),
                                                                             ("Service", "web-web")}


def test_a_failed_release_keeps_its_name(api, bob, team_ns, webapp):
    client = api(bob)
    response = install(client, team_ns, webapp["1.0.0"])
    releases.release_apply_run(operation_id=response.json()["id"])
    Release.objects.update(status="failed")  # as after a failed apply: retry it, or uninstall it first
    taken = install(client, team_ns, webapp["1.0.0"])
    assert taken.status_code == 409 and taken.json()["code"] == "release_name_taken"


# --- quota under concurrency ------------------------------------------------------------------
def test_an_install_in_flight_or_not_yet_counted_reserves_its_requests(team_ns, shop, bob, alice, tree, settings):
    big = {"replicas": 9, "cpu": "2"}  # 18000m each; tenant a's limit is 32000m
    first, operation = releases.release_install(actor=bob, namespace=team_ns, name="one", app_version=shop["1.0.0"],
                                                values=big)
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"], values=big)
    facts = err.value.extra
    assert (err.value.code, err.value.status) == ("quota_exceeded", 409)
    assert (facts["tenant"], facts["resource"], facts["requested"], facts["used"], facts["limit"],
            facts["in_flight"]) == (tree["a"].pk, "cpu", 18000, 18000, 32000, 18000)
    assert "in flight" in err.value.detail and not Release.objects.filter(name="two").exists()

    # Deployed but not yet seen by an inventory sync: still counted.
    run(operation)
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"], values=big)
    assert (err.value.extra["used"], err.value.extra["in_flight"]) == (18000, 18000)

    # The inventory sync now counts the pods; the release is not counted twice.
    clusters.cluster_sync_inventory(cluster=team_ns.cluster)
    with pytest.raises(ServiceError) as err:
        releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"], values=big)
    assert (err.value.extra["used"], err.value.extra["in_flight"]) == (18000, 0)
    small = {"replicas": 7, "cpu": "2"}
    _, fits = releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"],
                                       values=small)
    assert fits.state == "queued"


def test_an_uninstalled_release_no_longer_counts(team_ns, shop, bob):
    big = {"replicas": 9, "cpu": "2"}
    first, operation = releases.release_install(actor=bob, namespace=team_ns, name="one", app_version=shop["1.0.0"],
                                                values=big)
    run(operation)
    run(releases.release_uninstall(actor=bob, release=first))
    _, fits = releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"],
                                       values=big)
    assert fits.state == "queued"


def test_a_failed_install_releases_its_reservation(team_ns, shop, bob, alice, settings):
    big = {"replicas": 9, "cpu": "2"}
    first, operation = releases.release_install(actor=bob, namespace=team_ns, name="one", app_version=shop["1.0.0"],
                                                values=big)
    Operation.objects.filter(pk=operation.pk).update(state=Operation.State.RUNNING)
    later = operation.created_at + timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 1)
    # the stuck install is failed by an admin, which ends its reservation
    release_recovery.release_recover(actor=alice, release=first, reason="worker lost", now=later)
    _, fits = releases.release_install(actor=bob, namespace=team_ns, name="two", app_version=shop["1.0.0"],
                                       values=big)
    assert fits.state == "queued"


@pytest.mark.django_db(transaction=True)
def test_two_installs_racing_in_one_tenant_cannot_both_pass_the_quota(team_ns, shop, bob, tree):
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(name: str) -> None:
        try:
            namespace = Namespace.objects.select_related("tenant").get(pk=team_ns.pk)
            version = AppVersion.objects.get(pk=shop["1.0.0"].pk)
            barrier.wait(timeout=10)
            releases.release_install(actor=bob, namespace=namespace, name=name, app_version=version,
                                     values={"replicas": 9, "cpu": "2"})
            outcomes[name] = "queued"
        except ServiceError as exc:
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    refused = [value for value in outcomes.values() if isinstance(value, ServiceError)]
    assert sorted(map(str, outcomes.values())).count("queued") == 1 and len(refused) == 1, outcomes
    facts = refused[0].extra
    assert (refused[0].code, facts["tenant"], facts["resource"], facts["requested"], facts["used"],
            facts["limit"]) == ("quota_exceeded", tree["a"].pk, "cpu", 18000, 18000, 32000)
    assert Release.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_racing_with_one_key_answer_one_operation(team_ns, shop, bob):
    barrier = threading.Barrier(2)
    answers: list[object] = []

    def attempt() -> None:
        try:
            namespace = Namespace.objects.select_related("tenant").get(pk=team_ns.pk)
            version = AppVersion.objects.get(pk=shop["1.0.0"].pk)
            barrier.wait(timeout=10)
            answers.append(releases.release_install(actor=bob, namespace=namespace, name="web", app_version=version,
                                                    values={"replicas": 1}, idempotency_key="twin")[1].pk)
        except ServiceError as exc:
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 2 and answers[0] == answers[1] and isinstance(answers[0], int), answers
    assert Release.objects.count() == 1 and Operation.objects.filter(type="appstore.release_apply").count() == 1
