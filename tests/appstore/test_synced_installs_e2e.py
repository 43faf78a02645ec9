"""With a real Celery worker: the first install of a Helm HTTP chart waits out a down repository and converges."""

from __future__ import annotations

import pytest

from appstore.models import AppVersion, Release
from appstore.services import repositories, sync
from tenants.models import Operation
from tenants.services import clusters
from tests.servers.celery import celery_processes, wait_until
from tests.servers.chart_repo import ChartRepoServer

from .charts import packaged
from .releases_support import objects_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_retries_the_chart_fetch_while_the_repository_is_down_and_installs_when_it_is_back(
        tmp_path, api, operator, bob, team_ns):
    server = ChartRepoServer(tmp_path / "www")
    try:
        filename = server.publish(packaged(tmp_path, "hello", "1.0.0"))
        repo = repositories.repository_create(actor=operator, name="http", kind="helm_http", url=server.url)
        sync.repository_sync(repository=repo, actor=operator)
        version = AppVersion.objects.get(app__repository=repo)
        server.stop()
        with celery_processes(tmp_path):
            response = api(bob).post("/api/v1/releases/", {"namespace": team_ns.pk, "name": "web",
                                                           "app_version": version.pk, "values": {"replicas": 2}},
                                     format="json")
            assert response.status_code == 202, response.json()
            pk = response.json()["id"]
            wait_until(lambda: Operation.objects.filter(pk=pk, message__startswith="will retry: cannot reach")
                       .exists(), seconds=60)
            server.start()  # the same port
            done = wait_until(lambda: Operation.objects.filter(pk=pk, state__in=Operation.TERMINAL).first(),
                              seconds=90)
        assert done.state == "succeeded" and done.attempts >= 2, (done.error_code, done.error_message)
        assert server.fetches(filename) == 1
        release = Release.objects.get(name="web")
        backend = clusters.cluster_backend(team_ns.cluster)
        assert objects_of(backend, release) == {("Deployment", "web-web")}
        assert backend.get("apps/v1", "Deployment", "web-web", "team-a")["spec"]["replicas"] == 2
    finally:
        server.stop()
