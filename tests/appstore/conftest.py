"""App-store fixtures: the real helm binary (scripts/install-helm.sh) is required."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from appstore.models import AppRole


@pytest.fixture(scope="session", autouse=True)
def helm_binary():
    if not os.access(settings.HELM_BINARY, os.X_OK):
        pytest.fail(f"helm is missing at {settings.HELM_BINARY}: run make test-deps (scripts/install-helm.sh)")
    return settings.HELM_BINARY


@pytest.fixture
def upload(api):
    """upload(user, tenant, data) -> the API response of POST /api/v1/uploads/."""

    def send(user, tenant, data: bytes, filename: str = "chart.tgz"):
        chart = SimpleUploadedFile(filename, data, content_type="application/gzip")
        return api(user).post("/api/v1/uploads/", {"chart": chart, "tenant": tenant.pk}, format="multipart")

    return send


@pytest.fixture
def dana(make_user, tree):
    """dana: reviewer of tenant a's subtree (an AppRole), no membership."""
    user = make_user("dana")
    AppRole.objects.create(user=user, role=AppRole.Role.REVIEWER, tenant=tree["a"])
    return user


from .releases_support import sandbox_cluster, shop, team_ns, vera  # noqa: E402, F401 (release test fixtures)
