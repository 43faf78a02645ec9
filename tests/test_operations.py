from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.models import Operation
from tenants.services import operations as ops

pytestmark = pytest.mark.django_db


def test_the_same_idempotency_key_returns_the_first_operation(alice, tree):
    first, created = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"], idempotency_key="k1")
    again, created_again = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"], idempotency_key="k1")
    assert created and not created_again and first.pk == again.pk
    other, _ = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"], idempotency_key="k2")
    assert other.pk != first.pk


def test_only_one_worker_claims_an_operation(alice, tree):
    operation, _ = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"])
    assert ops.operation_claim(operation_id=operation.pk) is not None
    assert ops.operation_claim(operation_id=operation.pk) is None  # a duplicate delivery finds nothing to do
    claimed = Operation.objects.get(pk=operation.pk)
    assert claimed.state == "running" and claimed.attempts == 1 and claimed.started_at


def test_progress_success_and_failure_are_recorded(alice, tree):
    operation, _ = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"])
    claimed = ops.operation_claim(operation_id=operation.pk)
    ops.operation_progress(operation=claimed, progress=140, message="almost")
    assert Operation.objects.get(pk=operation.pk).progress == 100
    ops.operation_fail(operation=claimed, code="backend_unavailable", message="Keystone did not answer")
    failed = Operation.objects.get(pk=operation.pk)
    assert failed.state == "failed" and failed.error_code == "backend_unavailable" and failed.finished_at


def test_operations_whose_worker_died_are_requeued(alice, tree, settings):
    settings.OPERATION_STUCK_AFTER_SECONDS = 60
    operation, _ = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"])
    ops.operation_claim(operation_id=operation.pk)
    assert ops.operations_requeue_stuck() == 0
    Operation.objects.filter(pk=operation.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert ops.operations_requeue_stuck() == 1
    assert Operation.objects.get(pk=operation.pk).state == "queued"
    assert ops.operation_claim(operation_id=operation.pk) is not None  # the retry can claim it again


def test_operations_api_shows_progress_to_the_tenant(api, alice, bob, charlie, tree):
    operation, _ = ops.operation_create(type="demo.work", actor=alice, tenant=tree["a"])
    body = api(bob).get(f"/api/v1/operations/{operation.pk}/").json()
    assert body["state"] == "queued" and body["progress"] == 0 and body["type"] == "demo.work"
    assert api(bob).get("/api/v1/operations/", {"state": "queued"}).json()["results"][0]["id"] == operation.pk
    assert api(charlie).get(f"/api/v1/operations/{operation.pk}/").status_code == 404
