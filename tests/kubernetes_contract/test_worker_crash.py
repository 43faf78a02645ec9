"""A worker killed in the middle of a reconcile: the operation is retried and the cluster ends correct."""

from __future__ import annotations

import os
import signal

import pytest

from tenants.models import Namespace, Operation
from tenants.provisioning import desired as d
from tenants.services import clusters
from tenants.services.namespaces import namespace_reconcile_request
from tests.servers.celery import celery_processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_reconcile_leaves_the_operation_retried_and_the_cluster_correct(
        real_leg, tree, operator, alice, tmp_path):
    cluster = clusters.cluster_create(name="crash", api_url=real_leg.url, actor=operator,
                                      token=real_leg.admin.token, insecure_skip_tls_verify=True)
    namespace = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="crash-a")
    env = {"OPERATIONS_REQUEUE_INTERVAL": "1", "OPERATION_STUCK_AFTER_SECONDS": "10"}
    try:
        with celery_processes(tmp_path, extra_env=env, name="first") as first:
            # Freeze the API server so the reconcile is certainly in flight when the worker dies.
            os.kill(real_leg.server_pid, signal.SIGSTOP)
            operation = namespace_reconcile_request(namespace=namespace, actor=alice)
            wait_until(lambda: Operation.objects.filter(pk=operation.pk, state="running").exists(), seconds=30)
            first.kill("worker")
    finally:
        os.kill(real_leg.server_pid, signal.SIGCONT)
    assert Operation.objects.get(pk=operation.pk).state == "running"  # orphaned: nobody will finish it

    with celery_processes(tmp_path, beat=True, extra_env=env, name="second"):
        done = wait_until(lambda: Operation.objects.filter(pk=operation.pk, state__in=Operation.TERMINAL).first(),
                          seconds=90)
    assert done.state == "succeeded" and done.attempts == 2, (done.error_code, done.error_message)
    backend = real_leg.backend()
    names = sorted(rb["metadata"]["name"] for rb in backend.list("rbac.authorization.k8s.io/v1", "RoleBinding",
                                                                  namespace="crash-a"))
    assert names == sorted([d.role_binding_name(d.Binding("tenant-admin", "User", "alice")),
                            d.role_binding_name(d.Binding("member", "User", "bob"))])
    assert [q["metadata"]["name"] for q in backend.list("v1", "ResourceQuota", namespace="crash-a")] == [
        "bluedock-quota"]
    backend.delete("v1", "Namespace", "crash-a")


@pytest.mark.parametrize("status", [500, 409])
def test_transient_api_failures_are_retried_and_end_correct_without_duplicates(sandbox_leg, tree, operator, alice,
                                                                               tmp_path, status):
    from tests.servers.sandbox import admin_call

    cluster = clusters.cluster_create(name=f"flaky-{status}", api_url=sandbox_leg.url, actor=operator,
                                      token=sandbox_leg.admin.token)
    name = f"flaky-{status}"
    namespace = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name=name)
    with celery_processes(tmp_path, extra_env={"OPERATIONS_REQUEUE_INTERVAL": "1"}):
        admin_call(sandbox_leg.url, "POST", "/sandbox/faults", {"count": 3, "status": status})
        operation = namespace_reconcile_request(namespace=namespace, actor=alice)
        done = wait_until(lambda: Operation.objects.filter(pk=operation.pk, state__in=Operation.TERMINAL).first(),
                          seconds=90)
    assert done.state == "succeeded" and done.attempts >= 2, (done.attempts, done.error_message)
    backend = sandbox_leg.backend()
    kinds = [(kind, o["metadata"]["name"]) for api_version, kind in d.MANAGED_KINDS
             for o in backend.list(api_version, kind, namespace=name)]
    assert sorted(kinds) == sorted(set(kinds)) and len(kinds) == 5  # quota, limits, policy, alice, bob
    backend.delete("v1", "Namespace", name)
