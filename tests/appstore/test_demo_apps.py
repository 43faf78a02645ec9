"""The built-in demo repository loads through the same validation as uploads, and only once."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from appstore.models import App, AppVersion

pytestmark = pytest.mark.django_db


def test_demo_apps_load_once_with_several_versions_each(capsys):
    call_command("load_demo_apps")
    assert "Demo apps loaded" in capsys.readouterr().out
    apps = {a.name: a for a in App.objects.select_related("latest_version")}
    assert set(apps) == {"webapp", "keyval-cache", "batch-job"}
    assert apps["webapp"].latest_version.version == "1.1.0"  # 2.0.0-rc.1 is a prerelease
    assert all(a.versions.count() >= 2 and a.categories.exists() for a in apps.values())
    job = AppVersion.objects.get(app__name="batch-job", version="0.2.0")
    assert job.validation_report["kinds"] == ["Job"] and job.images == ["busybox:1.37"]
    assert job.values_schema["required"] and job.readme.startswith("# batch-job")
    count = AppVersion.objects.count()
    call_command("load_demo_apps")
    assert "nothing changed" in capsys.readouterr().out and AppVersion.objects.count() == count == 7
