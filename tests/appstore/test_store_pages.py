"""The store front, upload form and review queue pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from appstore.models import AppVersion

from .charts import valid_chart

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_upload_submit_review_and_publish_through_the_pages(tree, alice, dana, bob, charlie):
    page = _client(alice).post("/store/upload/", {"tenant": tree["a"].pk, "chart": SimpleUploadedFile(
        "hello.tgz", valid_chart())}, follow=True)
    assert page.status_code == 200 and b"Uploaded hello-1.0.0 as a draft" in page.content
    version = AppVersion.objects.get()
    _client(alice).post("/store/upload/", {"version": version.pk, "submit_version": "1"})
    queue = _client(dana).get("/store/review/")
    assert b"hello-1.0.0" in queue.content
    _client(dana).post("/store/review/", {"version": version.pk, "action": "approve"})
    _client(alice).post("/store/review/", {"version": version.pk, "action": "publish"})
    version.refresh_from_db()
    assert version.review_state == "published"
    store = _client(bob).get("/store/", {"q": "hello"})
    assert b"The hello test chart" in store.content
    detail = _client(bob).get(f"/store/apps/{version.app_id}/")
    assert b"A test chart." in detail.content and b"nginx:1.27" in detail.content
    assert b"hello" not in _client(charlie).get("/store/").content.split(b"<main>")[1]


def test_a_bad_upload_shows_the_specific_error_in_the_form(tree, alice):
    page = _client(alice).post("/store/upload/", {"tenant": tree["a"].pk, "chart": SimpleUploadedFile(
        "hello.tgz", valid_chart(version="1.0"))})
    assert page.status_code == 200 and b"chart_semver_invalid" in page.content
    assert not AppVersion.objects.exists()


def test_readme_is_escaped(tree, alice):
    from appstore.charts import archive
    from appstore.services import uploads

    from .charts import chart_files, tgz

    files = chart_files()
    files["README.md"] = b"<script>alert(1)</script>"
    data = tgz(files)
    checked = {"summary": {"images": [], "has_crds": False, "cluster_scoped_kinds": []}, "report": {}}
    version = uploads.chart_store(repository=None, tenant=tree["a"], data=data, info=archive.inspect(data),
                                  checked=checked, actor=alice, publish=True)
    page = _client(alice).get(f"/store/apps/{version.app_id}/")
    assert b"<script>alert(1)" not in page.content and b"&lt;script&gt;" in page.content
