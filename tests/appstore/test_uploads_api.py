"""POST /api/v1/uploads/: what is accepted, and every way an upload is refused (nothing stored)."""

from __future__ import annotations

import random

import pytest
from django.test import override_settings

from appstore.models import App, AppVersion, ChartArchive, Repository
from tenants.models import AuditEvent

from .charts import CRD, chart_files, member, tgz, valid_chart

pytestmark = pytest.mark.django_db


def counts():
    return (App.objects.count(), AppVersion.objects.count(), ChartArchive.objects.count())


def test_a_valid_upload_answers_201_with_a_draft_and_its_report(upload, alice, tree):
    response = upload(alice, tree["a"], valid_chart())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["app_name"], body["version"], body["review_state"]) == ("hello", "1.0.0", "draft")
    assert body["validation_report"]["kinds"] == ["Deployment"] and body["images"] == ["nginx:1.27"]
    assert body["needs_operator_approval"] is False
    version = AppVersion.objects.get(pk=body["id"])
    assert version.archive.size == len(valid_chart()) and version.app.tenant == tree["a"]
    assert version.app.repository.kind == Repository.Kind.INTERNAL
    assert AuditEvent.objects.filter(action="appstore.chart_upload", result="success").count() == 1


def _lint_breaker():
    return valid_chart(extra={"templates/broken.yaml": b"kind: ConfigMap\nname: {{ .Values.image \n"})


def _bomb():
    files = chart_files()
    files["templates/zeros.txt"] = b"0" * 5_000_000
    return tgz(files)


BAD = [
    ("traversal", lambda: tgz(chart_files(), members=[member("hello/../../evil.yaml")]), "chart_path_traversal"),
    ("symlink", lambda: tgz(chart_files(), members=[member("hello/templates/x.yaml", type=b"2",
                                                           linkname="/etc/shadow")]), "chart_symlink"),
    ("bomb", _bomb, "chart_bomb"),
    ("oversized", lambda: valid_chart(extra={"blob.bin": random.Random(0).randbytes(250 * 1024)}), "chart_too_large"),
    ("bad semver", lambda: valid_chart(version="1.0"), "chart_semver_invalid"),
    ("library chart", lambda: valid_chart(chart={"type": "library"}), "chart_library"),
    ("missing Chart.yaml", lambda: tgz({k: v for k, v in chart_files().items() if k != "Chart.yaml"}),
     "chart_yaml_missing"),
    ("invalid schema", lambda: valid_chart(schema={"type": 12}), "chart_schema_invalid"),
    ("values failing schema", lambda: valid_chart(values={"replicas": 0, "image": "x"}), "chart_values_invalid"),
    ("non-UTF-8", lambda: tgz({**chart_files(), "README.md": b"caf\xe9"}), "chart_not_utf8"),
    ("apiVersion v1", lambda: valid_chart(chart={"apiVersion": "v1"}), "chart_api_version"),
    ("lint failure", _lint_breaker, "chart_lint_failed"),
    ("not an archive", lambda: b"hello, I am text", "chart_archive_invalid"),
]


@override_settings(APPSTORE_MAX_CHART_BYTES=200 * 1024)
@pytest.mark.parametrize(("case", "build", "code"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_upload_is_refused_with_a_specific_code_and_nothing_is_stored(upload, alice, tree, case, build, code):
    before = counts()
    response = upload(alice, tree["a"], build())
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code, response.json()
    assert counts() == before
    assert not Repository.objects.filter(kind=Repository.Kind.INTERNAL).exists()


def test_a_duplicate_version_is_refused_and_the_first_is_kept(upload, alice, tree):
    assert upload(alice, tree["a"], valid_chart()).status_code == 201
    before = counts()
    changed = valid_chart(values={"replicas": 2, "image": "nginx:1.28"})  # different bytes, same version
    response = upload(alice, tree["a"], changed)
    assert response.status_code == 400 and response.json()["code"] == "chart_version_exists"
    assert counts() == before


def test_a_chart_with_crds_needs_an_operator_to_approve_it(upload, api, alice, dana, operator, tree):
    response = upload(alice, tree["a"], valid_chart(extra={"crds/widgets.yaml": CRD.encode()}))
    assert response.status_code == 201, response.json()
    version = response.json()
    assert version["needs_operator_approval"] and version["crds_present"]
    assert "CustomResourceDefinition" in version["cluster_scoped_kinds"]
    assert api(alice).post(f"/api/v1/versions/{version['id']}/submit/").status_code == 200
    refused = api(dana).post(f"/api/v1/versions/{version['id']}/approve/", {"comment": "lgtm"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "chart_needs_operator_approval"
    assert AppVersion.objects.get(pk=version["id"]).review_state == "submitted"
    approved = api(operator).post(f"/api/v1/versions/{version['id']}/approve/", {"comment": "ok"}, format="json")
    assert approved.status_code == 200 and approved.json()["review_state"] == "approved"


def test_a_cluster_role_template_also_needs_an_operator(upload, api, alice, dana, tree):
    role = b"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules: []\n"
    response = upload(alice, tree["a"], valid_chart(extra={"templates/role.yaml": role}))
    assert response.status_code == 201
    assert response.json()["cluster_scoped_kinds"] == ["ClusterRole"]


def test_a_member_cannot_upload_and_an_outsider_learns_nothing(upload, bob, charlie, tree):
    before = counts()
    as_member = upload(bob, tree["a"], valid_chart())
    assert as_member.status_code == 403 and as_member.json()["code"] == "permission_denied"
    as_outsider = upload(charlie, tree["a"], valid_chart())
    unknown = upload(charlie, type("T", (), {"pk": 999999})(), valid_chart())
    assert as_outsider.status_code == unknown.status_code == 400
    assert as_outsider.json()["detail"].replace(str(tree["a"].pk), "N") == \
        unknown.json()["detail"].replace("999999", "N")
    assert counts() == before


def test_the_upload_needs_both_fields(api, alice, tree):
    response = api(alice).post("/api/v1/uploads/", {"tenant": tree["a"].pk}, format="multipart")
    assert response.status_code == 400 and "chart" in response.json()["errors"]
