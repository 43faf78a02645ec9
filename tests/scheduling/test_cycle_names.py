"""Names are user input: whatever a tenant names its pods and gangs, the pass goes through for
every tenant of the cluster (a value the records cannot hold would fail it at every pass)."""

from __future__ import annotations

import pytest

from scheduling.cycle import scheduling_cycle
from scheduling.models import Binding, SchedulingDecision, SchedulingRequest
from tenants.models import Namespace
from tests.scheduling.seed import GATE, cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def test_a_gang_name_too_long_to_record_is_ignored_with_a_note_and_every_tenant_is_scheduled(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 2, annotations={"bluedock.io/gang": "g" * 400,
                                                               "bluedock.io/gang-size": "2"}))
    backend.apply(deployment("api", "t2-apps", 1))
    wait_for(lambda: gated(backend, "t1-apps") == 2 and gated(backend, "t2-apps") == 1, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 2 and running(backend, "t2-apps") == 1)
    rows = SchedulingRequest.objects.filter(tenant=tenants["t1"])
    assert rows.count() == 2 and all(r.name.startswith("web-") for r in rows)  # a request per pod
    (note,) = rows.first().notes
    assert note.startswith(f"bluedock.io/gang '{'g' * 60}…' ignored: a gang's name is letters, digits")


def test_the_longest_names_kubernetes_allows_are_recorded(sandbox_api, operator):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    namespace, name = "n" * 63, "p" * 253
    Namespace.objects.create(tenant=tenants["t1"], cluster=cluster, name=namespace)
    backend.ensure_namespace(namespace, labels={})
    backend.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                   "spec": {"schedulingGates": [{"name": GATE}], "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "app", "image": "registry.local/app:1",
                                            "resources": {"requests": {"cpu": "1"}}}]}})
    wait_for(lambda: gated(backend, namespace) == 1, timeout=10)
    cycle_until(cluster, lambda: running(backend, namespace) == 1)
    key = f"{namespace}/{name}"
    assert len(key) == 317
    assert SchedulingDecision.objects.get(action="ADMIT").request == key
    assert Binding.objects.open().get().request == key
    assert SchedulingRequest.objects.get().key == key
    scheduling_cycle(cluster=cluster)
