"""Bad input gets a specific 400 problem+json and leaves the database exactly as it was."""

import json

import pytest
from django.db import connection

from tenants.models import AuditEvent, Membership, Namespace, ResourcePlan, Tenant

pytestmark = pytest.mark.django_db


def db_state():
    return (
        list(Tenant.objects.values_list("id", "name", "slug", "path", "parent_id", "state").order_by("id")),
        list(ResourcePlan.objects.values_list("tenant_id", "resource", "owned", "limit", "borrow_limit",
                                              "lend_limit").order_by("id")),
        Membership.objects.count(), Namespace.objects.count(), AuditEvent.objects.count(),
    )


def quota_body(**cpu):
    return {"cpu": cpu}


QUOTA_CASES = [
    ("negative", quota_body(owned=-1), "quota_invalid", "between 0 and"),
    ("float", quota_body(owned=8000.5), "quota_invalid", "whole number"),
    ("float that looks whole", quota_body(owned=8000.0), "quota_invalid", "whole number"),
    ("string", quota_body(owned="8000"), "quota_invalid", "whole number"),
    ("boolean", quota_body(owned=True), "quota_invalid", "whole number"),
    ("huge", quota_body(owned=2**31), "quota_invalid", "between 0 and 2147483647"),
    ("null owned", quota_body(owned=None), "quota_invalid", "may not be null"),
    ("unknown resource", {"cpus": {"owned": 1}}, "unknown_resource", "Unknown resource 'cpus'"),
    ("unknown field", quota_body(ownd=1), "quota_invalid", "unknown field 'ownd'"),
    ("not an object", {"cpu": 8000}, "quota_invalid", "expected an object"),
    ("empty body", {}, "quota_invalid", "Send an object"),
    ("lend above owned", quota_body(owned=1000, lend_limit=2000), "quota_invalid", "lend_limit 2000 is above owned"),
    ("limit below owned", quota_body(owned=1000, limit=500), "quota_invalid", "limit 500 is below owned"),
    ("child over parent limit", quota_body(owned=0, limit=40000), "quota_invalid", "exceeds the limit 32000"),
    ("limit below a grandchild's", quota_body(limit=3000), "quota_invalid", "below descendant 'org/a/dev/qa/e2e'"),
    ("child owned over parent owned", quota_body(owned=16001), "quota_invalid", "exceeds parent"),
    ("second resource bad after a good one", {"cpu": {"owned": 1000}, "memory": {"owned": -5}},
     "quota_invalid", "memory.owned"),
]


@pytest.mark.parametrize(("case", "body", "code", "message"), QUOTA_CASES, ids=[c[0] for c in QUOTA_CASES])
def test_bad_quota_is_refused_and_nothing_changes(api, alice, tree, case, body, code, message):
    # a/dev/qa/e2e has a cpu limit of its own; a/dev/qa, between it and a/dev, has none.
    qa = Tenant.objects.add_child(Tenant.objects.get(pk=tree["a_dev"].pk), instance=Tenant(
        parent=tree["a_dev"], name="QA", slug="qa", full_slug="org/a/dev/qa"))
    e2e = Tenant.objects.add_child(Tenant.objects.get(pk=qa.pk), instance=Tenant(
        parent=qa, name="E2E", slug="e2e", full_slug="org/a/dev/qa/e2e"))
    ResourcePlan.objects.create(tenant=e2e, resource="cpu", owned=0, limit=4000)
    before = db_state()
    response = api(alice).put(f"/api/v1/tenants/{tree['a_dev'].pk}/quota/", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and message in problem["detail"], problem
    assert db_state() == before


def test_nan_and_infinity_are_refused_as_malformed_json(api, alice, tree):
    before = db_state()
    for raw in ('{"cpu": {"owned": NaN}}', '{"cpu": {"owned": Infinity}}'):
        response = api(alice).generic("PUT", f"/api/v1/tenants/{tree['a_dev'].pk}/quota/", raw,
                                      content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert db_state() == before


TENANT_CASES = [
    ("duplicate sibling slug", {"name": "Dev again", "slug": "dev"}, "slug_taken", "already exists"),
    ("slug not DNS-1123", {"name": "X", "slug": "Not_DNS"}, "invalid", "DNS-1123"),
    ("slug too long", {"name": "X", "slug": "a" * 64}, "invalid", "slug"),
    ("missing name", {"slug": "x"}, "invalid", "name"),
    ("parent unknown", {"name": "X", "slug": "x", "parent": 999999}, "invalid", "does not exist"),
    ("parent not a number", {"name": "X", "slug": "x", "parent": "a"}, "invalid", "parent"),
]


@pytest.mark.parametrize(("case", "body", "code", "message"), TENANT_CASES, ids=[c[0] for c in TENANT_CASES])
def test_bad_tenant_is_refused_and_nothing_changes(api, alice, tree, case, body, code, message):
    body = {"parent": tree["a"].pk, **body}
    before = db_state()
    response = api(alice).post("/api/v1/tenants/", body, format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == code and message in json.dumps(problem), problem
    assert db_state() == before


def test_depth_over_the_maximum_is_refused(api, operator, tree, settings):
    settings.TENANT_MAX_DEPTH = 3
    before = db_state()
    response = api(operator).post("/api/v1/tenants/", {"name": "Deep", "slug": "deep", "parent": tree["a_dev"].pk},
                                  format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "tenant_too_deep" and response.json()["max_depth"] == 3
    assert db_state() == before


@pytest.mark.parametrize("field", ["parent", "slug"])
def test_parent_and_slug_are_immutable_so_no_cycle_can_be_made(api, operator, tree, field):
    before = db_state()
    value = tree["a_dev"].pk if field == "parent" else "renamed"
    response = api(operator).patch(f"/api/v1/tenants/{tree['a'].pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"] and "cannot change" in response.json()["detail"]
    assert db_state() == before


def test_oversized_body_is_refused_with_413(api, operator, tree, settings):
    settings.API_MAX_BODY_BYTES = 2048
    before = db_state()
    response = api(operator).post("/api/v1/tenants/", {"name": "x" * 5000, "slug": "big", "parent": None},
                                  format="json")
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert db_state() == before


def test_non_json_body_is_415(api, operator, tree):
    response = api(operator).generic("POST", "/api/v1/tenants/", "name=x", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_rejected_plan_writes_no_audit_rows_even_inside_one_transaction(api, operator, tree):
    # The first resource is valid and the second is not: neither is written.
    before = db_state()
    response = api(operator).put(f"/api/v1/tenants/{tree['a'].pk}/quota/",
                                 {"memory": {"owned": 1024}, "cpu": {"owned": 70000}}, format="json")
    assert response.status_code == 400
    assert db_state() == before
    assert connection.in_atomic_block  # pytest-django's test transaction, not a leaked one
