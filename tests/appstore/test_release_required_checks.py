"""A tenant's required admission checks reach the pods of its releases as scheduling gates (spec A4c)."""

from __future__ import annotations

import pytest

from appstore.releases import render
from appstore.services import releases
from scheduling.models import TenantSchedulingPolicy
from tenants.services import clusters
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def test_a_release_in_a_tenant_with_required_checks_renders_pods_with_both_gates(team_ns, shop, bob, tree):
    # The check is required on the parent (org); team-a belongs to org/a, which inherits it.
    TenantSchedulingPolicy.objects.create(tenant=tree["org"], required_checks=["example.com/budget-approved"])
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"], values={"replicas": 2})
    releases.release_apply_run(operation_id=operation.pk)
    backend = clusters.cluster_backend(team_ns.cluster)
    selector = f"{render.RELEASE_LABEL}={release.pk}"
    pods = wait_for(lambda: len(backend.list_pods("team-a", label_selector=selector)) == 2
                    and backend.list_pods("team-a", label_selector=selector))
    for pod in pods:
        assert pod.scheduling_gates == ("example.com/budget-approved", "bluedock.io/admission")


def test_a_tenant_without_required_checks_gets_only_the_admission_gate(team_ns, shop, bob, tree):
    TenantSchedulingPolicy.objects.create(tenant=tree["b"], required_checks=["example.com/other-team"])
    release, operation = releases.release_install(actor=bob, namespace=team_ns, name="shop",
                                                  app_version=shop["1.0.0"], values={"replicas": 1})
    revision = release.revisions.get()
    assert "example.com/other-team" not in revision.manifest and "bluedock.io/admission" in revision.manifest
