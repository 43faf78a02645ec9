"""End to end with real processes: a Celery worker and beat against real Redis, PostgreSQL and Keystone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.models import Operation, Tenant
from tests.servers.celery import celery_processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def keystone_env(settings) -> dict:
    return {"KEYSTONE_ENABLED": "true", "KEYSTONE_AUTH_URL": settings.KEYSTONE_AUTH_URL,
            "KEYSTONE_USERNAME": settings.KEYSTONE_USERNAME, "KEYSTONE_PASSWORD": settings.KEYSTONE_PASSWORD,
            "KEYSTONE_PROJECT_NAME": settings.KEYSTONE_PROJECT_NAME,
            "KEYSTONE_USER_DOMAIN": settings.KEYSTONE_USER_DOMAIN,
            "KEYSTONE_PROJECT_DOMAIN": settings.KEYSTONE_PROJECT_DOMAIN,
            "KEYSTONE_DOMAIN_ID": settings.KEYSTONE_DOMAIN_ID}


def test_a_sync_requested_through_the_api_is_run_by_a_real_worker(api, operator, keystone_on, keystone_admin,
                                                                  keystone_domain, tmp_path):
    top = keystone_admin.identity.create_project(name="acme", domain_id=keystone_domain)
    keystone_admin.identity.create_project(name="acme.web", domain_id=keystone_domain, parent_id=top.id)
    with celery_processes(tmp_path, extra_env=keystone_env(keystone_on)):
        response = api(operator).post("/api/v1/keystone/sync/", {}, format="json")
        assert response.status_code == 202, response.content
        operation_id = response.json()["id"]
        done = wait_until(lambda: Operation.objects.filter(pk=operation_id, state__in=Operation.TERMINAL).first(),
                          seconds=60)
    assert done.state == "succeeded", (done.error_code, done.error_message)
    assert done.progress == 100
    assert sorted(Tenant.objects.values_list("full_slug", flat=True)) == ["acme", "acme/web"]


def test_beat_requeues_an_operation_whose_message_was_lost(operator, keystone_on, keystone_admin, keystone_domain,
                                                           tmp_path):
    keystone_admin.identity.create_project(name="lost", domain_id=keystone_domain)
    # A queued operation whose Celery message never reached Redis (say, the web process died after commit).
    operation = Operation.objects.create(type="keystone.sync", actor=operator)
    Operation.objects.filter(pk=operation.pk).update(created_at=timezone.now() - timedelta(hours=1))
    env = {**keystone_env(keystone_on), "OPERATIONS_REQUEUE_INTERVAL": "1", "OPERATION_STUCK_AFTER_SECONDS": "10"}
    with celery_processes(tmp_path, beat=True, extra_env=env):
        done = wait_until(lambda: Operation.objects.filter(pk=operation.pk, state__in=Operation.TERMINAL).first(),
                          seconds=60)
    assert done.state == "succeeded" and done.attempts == 1
    assert Tenant.objects.filter(full_slug="lost").exists()
