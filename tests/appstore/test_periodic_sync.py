"""The beat entry and the periodic check that queues due repository syncs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from appstore.models import Repository
from appstore.services.repositories import SYNC_OPERATION
from appstore.services.sync import repositories_sync_due
from bluedock_portal.celery import app as celery_app
from tenants.models import Operation
from tenants.services.operations import RUNNERS

pytestmark = pytest.mark.django_db


def test_beat_runs_the_due_check_with_an_expiry_and_the_runner_is_registered():
    entry = celery_app.conf.beat_schedule["appstore.repositories_sync_due"]
    assert entry["options"]["expires"] < entry["schedule"]
    assert "appstore.repositories_sync_due" in celery_app.tasks
    assert RUNNERS[SYNC_OPERATION] == "appstore.repository_sync_run" and RUNNERS[SYNC_OPERATION] in celery_app.tasks


def test_only_repositories_past_their_interval_are_queued_once(django_capture_on_commit_callbacks):
    now = timezone.now()
    due = Repository.objects.create(name="due", kind="helm_http", url="http://x.test", sync_interval=60,
                                    last_synced_at=now - timedelta(seconds=120))
    Repository.objects.create(name="fresh", kind="helm_http", url="http://y.test", sync_interval=600,
                              last_synced_at=now - timedelta(seconds=120))
    Repository.objects.create(name="manual", kind="helm_http", url="http://z.test", sync_interval=0)
    never = Repository.objects.create(name="never", kind="oci", url="http://r.test", oci_repositories=["c/x"])
    with django_capture_on_commit_callbacks(execute=False):
        assert sorted(repositories_sync_due(now=now)) == sorted([due.pk, never.pk])
        assert repositories_sync_due(now=now) == []  # already queued
    assert Operation.objects.filter(type=SYNC_OPERATION).count() == 2
