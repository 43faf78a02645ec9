"""What a release runs: its objects with their live state, the cluster's events, its own log —
read from the sandbox cluster through the real client; and charlie sees none of it."""

from __future__ import annotations

import socket

import pytest
from django.test import Client

from appstore.releases import render
from appstore.services import releases
from sandbox.testing import DEFAULT_TOKEN
from tenants.services import clusters
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_release(team_ns, shop, bob):
    release, operation = releases.release_install(
        actor=bob, namespace=team_ns, name="shop", app_version=shop["1.0.0"], values={"replicas": 2}
    )
    releases.release_apply_run(operation_id=operation.pk)
    release.refresh_from_db()
    return release


def pods_of(backend, release):
    return backend.list_pods("team-a", label_selector=f"{render.RELEASE_LABEL}={release.pk}")


def rows(body):
    return [(r["kind"], r["state"], r["detail"], r["owner"]) for r in body["rows"]]


def test_resources_show_each_object_with_its_live_state_as_pods_are_admitted(api, bob, shop_release):
    backend = clusters.cluster_backend(shop_release.namespace.cluster)
    wait_for(lambda: len(pods_of(backend, shop_release)) == 2)
    body = api(bob).get(f"/api/v1/releases/{shop_release.pk}/resources/").json()
    assert (body["available"], body["revision"], body["note"]) == (True, 1, "")
    service = backend.get("v1", "Service", "shop-web", "team-a")
    assert rows(body) == [
        ("Deployment", "waiting for admission", "0/2 ready, 2 waiting for admission", ""),
        ("Pod", "waiting for admission", "held until the tenant's share admits it", "Deployment/shop-web"),
        ("Pod", "waiting for admission", "held until the tenant's share admits it", "Deployment/shop-web"),
        ("Service", "active", f"ClusterIP {service['spec']['clusterIP']} 80/TCP", ""),
    ]

    # The scheduler admits one pod (removes its gate): it runs, and the Deployment counts it ready.
    first = sorted(p.name for p in pods_of(backend, shop_release))[0]
    backend.remove_scheduling_gate("team-a", first, render.ADMISSION_GATE)
    wait_for(lambda: backend.get("apps/v1", "Deployment", "shop-web", "team-a")["status"].get("readyReplicas") == 1)
    body = api(bob).get(f"/api/v1/releases/{shop_release.pk}/resources/").json()
    by_name = {(r["kind"], r["name"]): (r["state"], r["detail"], r["healthy"]) for r in body["rows"]}
    assert by_name["Deployment", "shop-web"] == ("waiting for admission", "1/2 ready, 1 waiting for admission", None)
    assert by_name["Pod", first] == ("running", "on node-1", True)

    # Someone deletes the Service by hand: the page says it is missing instead of hiding it.
    backend.delete("v1", "Service", "shop-web", "team-a")
    body = api(bob).get(f"/api/v1/releases/{shop_release.pk}/resources/").json()
    assert ("Service", "missing", "not in the cluster", "") in rows(body)


def test_events_of_the_release_objects_and_its_own_log(api, bob, shop_release, sandbox_api):
    backend = clusters.cluster_backend(shop_release.namespace.cluster)
    pod = wait_for(lambda: pods_of(backend, shop_release))[0].name
    backend.remove_scheduling_gate("team-a", pod, render.ADMISSION_GATE)
    # An object of another release (and its events) in the same namespace stays out.
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stranger", "namespace": "team-a"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
    )

    def reasons():
        body = api(bob).get(f"/api/v1/releases/{shop_release.pk}/events/").json()
        found = {(e["object"].split("/")[0], e["reason"]) for e in body["events"]}
        return {("Pod", "Started"), ("Deployment", "ScalingReplicaSet")} <= found and body

    body = wait_for(reasons)
    assert body["available"] is True
    found = {(e["object"], e["reason"], e["source"]) for e in body["events"]}
    assert {
        (f"Pod/{pod}", "Scheduled", "default-scheduler"),
        (f"Pod/{pod}", "Pulled", "kubelet"),
        (f"Pod/{pod}", "Created", "kubelet"),
        (f"Pod/{pod}", "Started", "kubelet"),
    } <= found
    assert any(o.startswith("ReplicaSet/shop-web-") and r == "SuccessfulCreate" for o, r, _ in found)
    assert not any("stranger" in o for o, _, _ in found)
    assert [e["time"] for e in body["events"]] == sorted((e["time"] for e in body["events"]), reverse=True)

    log = [line["text"] for line in body["log"]]
    assert log[0] == "install of revision 1 queued by bob"
    assert {"applied Deployment/shop-web", "applied Service/shop-web", "succeeded: shop: revision 1 deployed"} <= set(
        log
    )


def test_an_unreachable_cluster_is_a_clear_note_not_an_error(api, bob, operator, shop_release):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    clusters.cluster_set_credentials(
        cluster=shop_release.namespace.cluster,
        actor=operator,
        api_url=f"http://127.0.0.1:{closed}",
        token=DEFAULT_TOKEN,
    )

    body = api(bob).get(f"/api/v1/releases/{shop_release.pk}/resources/").json()
    assert body["available"] is False and "cannot be read right now" in body["note"]
    assert rows(body) == [("Deployment", "unknown", "", ""), ("Service", "unknown", "", "")]
    events = api(bob).get(f"/api/v1/releases/{shop_release.pk}/events/")
    assert events.status_code == 200 and events.json()["available"] is False
    assert events.json()["log"]  # the release's own log does not need the cluster

    client = Client()
    client.force_login(bob)
    page = client.get(f"/store/releases/{shop_release.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "cannot be read right now" in html and "sandbox-releases" in html


def test_the_release_page_shows_resources_events_and_log(bob, shop_release):
    backend = clusters.cluster_backend(shop_release.namespace.cluster)
    wait_for(lambda: len(pods_of(backend, shop_release)) == 2)
    client = Client()
    client.force_login(bob)
    html = wait_for(
        lambda: (
            (h := client.get(f"/store/releases/{shop_release.pk}/").content.decode()) and "ScalingReplicaSet" in h and h
        )
    )
    assert "Resources of revision 1" in html and "0/2 ready, 2 waiting for admission" in html
    assert html.count("held until the tenant&#x27;s share admits it") == 2
    assert "Events" in html and "Operation log" in html and "applied Deployment/shop-web" in html


def test_a_viewer_reads_resources_and_events_and_charlie_gets_404(api, vera, charlie, shop_release):
    for path in ("resources/", "events/"):
        assert api(vera).get(f"/api/v1/releases/{shop_release.pk}/{path}").status_code == 200, path
        response = api(charlie).get(f"/api/v1/releases/{shop_release.pk}/{path}")
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
