"""Bad input to the scheduling API: a specific 400 naming the parameter (and, for a closed set, the
allowed values), or a 404 problem for an id that names nothing you may see; nothing is written.

Every scheduling endpoint refuses query parameters it does not read (scheduling/api/strict.py):
an ignored ``?page=2`` or misspelt ``?stat=Pending`` would answer a list that looks like a real one.
"""

from __future__ import annotations

import pytest

from scheduling.filtersets import REASONS, REQUEST_STATES
from scheduling.models import Binding, SchedulingRequest, SchedulingSettings, TenantSchedulingPolicy
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def rows(tree, cluster):
    request = SchedulingRequest.objects.create(cluster=cluster, tenant=tree["a"], key="a-web/web-1", namespace="a-web",
                                               name="web-1", demand={"cpu": 1000}, state="Pending",
                                               reason="PENDING_NO_CAPACITY")
    binding = Binding.objects.create(cluster=cluster, tenant=tree["a"], event="open", request="a-web/web-0",
                                     namespace="a-web", pods=["web-0"], share="owned", reason="ADMITTED_WITHIN_OWNED",
                                     demand={"cpu": 1000}, pass_seq=1, config_version=1)
    return {"request": request.pk, "binding": binding.pk, "tenant": tree["a"].pk}


URLS = {
    "requests": "/api/v1/scheduling/requests/",
    "request": "/api/v1/scheduling/requests/{request}/",
    "why": "/api/v1/scheduling/requests/{request}/why/",
    "bindings": "/api/v1/scheduling/bindings/",
    "binding": "/api/v1/scheduling/bindings/{binding}/",
    "share": "/api/v1/tenants/{tenant}/share/",
    "policy": "/api/v1/tenants/{tenant}/scheduling-policy/",
    "settings": "/api/v1/scheduling/settings/",
}


def db_state():
    return (list(SchedulingRequest.objects.values_list("id", "state", "reason", "updated_at").order_by("id")),
            list(Binding.objects.values_list("id", "event").order_by("id")),
            list(TenantSchedulingPolicy.objects.values_list("tenant_id", "weight", "updated_at")),
            list(SchedulingSettings.objects.values_list("id", "updated_at")), AuditEvent.objects.count())


READS_ONLY_FORMAT = "reads only: format."
BAD_QUERIES = [
    # (case, endpoint, query, the parameter named, words of the error)
    ("state outside the closed set", "requests", {"state": "Bogus"}, "state",
     "'Bogus' is not one of: Pending, Reserved, Admitted, Rejected."),
    ("state in another case", "requests", {"state": "pending"}, "state", "is not one of: Pending,"),
    ("reason outside the closed set", "requests", {"reason": "NOT_A_REASON"}, "reason",
     "'NOT_A_REASON' is not one of: ADMITTED_WITHIN_OWNED, ADMITTED_BORROWING,"),
    ("namespace of 5,000 characters", "requests", {"namespace": "x" * 5000}, "namespace", "at most 63 characters"),
    ("page: this API pages with a cursor", "requests", {"page": "-1"}, "page",
     "Unknown parameter; this endpoint reads only: cursor, format, namespace, page_size, reason, state, subtree, "
     "tenant."),
    ("misspelt filter", "requests", {"stat": "Pending"}, "stat", "reads only: cursor,"),
    ("page_size below 1", "requests", {"page_size": "0"}, "page_size", "Expected a whole number ≥ 1"),
    ("page_size negative", "requests", {"page_size": "-1"}, "page_size", "Expected a whole number ≥ 1"),
    ("page_size not a number", "requests", {"page_size": "ten"}, "page_size", "Expected a whole number ≥ 1"),
    ("tenant not a number", "requests", {"tenant": "abc"}, "tenant", "Enter a whole number."),
    ("tenant not whole", "requests", {"tenant": "1.5"}, "tenant", "Enter a whole number."),
    ("tenant zero", "requests", {"tenant": "0"}, "tenant", "greater than or equal to 1"),
    ("subtree neither true nor false", "requests", {"tenant": "1", "subtree": "maybe"}, "subtree",
     "'maybe' is not one of: true, false."),
    ("an object reads no filter", "request", {"state": "Admitted"}, "state", READS_ONLY_FORMAT),
    ("why reads no filter", "why", {"state": "Bogus"}, "state", READS_ONLY_FORMAT),
    ("why has no pages", "why", {"page": "-1"}, "page", READS_ONLY_FORMAT),
    ("the share has no pages", "share", {"page": "-1"}, "page", READS_ONLY_FORMAT),
    ("the share is not per cluster", "share", {"cluster": "1"}, "cluster", READS_ONLY_FORMAT),
    ("bindings: page", "bindings", {"page": "-1"}, "page", "reads only: cluster, cursor, event,"),
    ("bindings: event outside the closed set", "bindings", {"event": "reopen"}, "event",
     "'reopen' is not one of: open, close."),
    ("bindings: share outside the closed set", "bindings", {"share": "lent"}, "share",
     "'lent' is not one of: owned, borrowed."),
    ("bindings: open neither true nor false", "bindings", {"open": "maybe"}, "open", "is not one of: true, false."),
    ("bindings: cluster not whole", "bindings", {"cluster": "1.5"}, "cluster", "Enter a whole number."),
    ("bindings: namespace too long", "bindings", {"namespace": "x" * 64}, "namespace", "at most 63 characters"),
    ("a binding reads no filter", "binding", {"open": "true"}, "open", READS_ONLY_FORMAT),
    ("the policy reads no parameter", "policy", {"weight": "2"}, "weight", READS_ONLY_FORMAT),
    ("the settings read no parameter", "settings", {"x": "1"}, "x", READS_ONLY_FORMAT),
]


@pytest.mark.parametrize(("case", "endpoint", "query", "parameter", "words"), BAD_QUERIES,
                         ids=[c[0] for c in BAD_QUERIES])
def test_a_bad_query_is_a_400_naming_the_parameter(api, bob, rows, case, endpoint, query, parameter, words):
    before = db_state()
    response = api(bob).get(URLS[endpoint].format(**rows), query)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "invalid" and list(problem["errors"]) == [parameter], problem
    assert problem["detail"].startswith(f"{parameter}: ") and words in problem["detail"], problem["detail"]
    assert db_state() == before


def test_every_unknown_parameter_is_named(api, bob, rows):
    problem = api(bob).get(URLS["requests"], {"page": "2", "limit": "10", "state": "Pending"}).json()
    assert sorted(problem["errors"]) == ["limit", "page"]


def test_every_allowed_value_is_accepted(api, bob, rows):
    client = api(bob)
    for state in REQUEST_STATES:
        assert client.get(URLS["requests"], {"state": state}).status_code == 200, state
    for reason in REASONS:
        assert client.get(URLS["requests"], {"reason": reason}).status_code == 200, reason
    every_filter = {"tenant": rows["tenant"], "subtree": "true", "state": "Pending", "reason": "PENDING_NO_CAPACITY",
                    "namespace": "a-web", "page_size": 1, "format": "json"}
    assert [r["key"] for r in client.get(URLS["requests"], every_filter).json()["results"]] == ["a-web/web-1"]
    assert client.get(URLS["requests"], {"page_size": 100000}).status_code == 200  # the paginator caps it
    for endpoint in ("request", "why", "binding", "share", "policy", "settings"):
        assert client.get(URLS[endpoint].format(**rows), {"format": "json"}).status_code == 200, endpoint


def test_an_unknown_tenant_filter_is_an_empty_list_as_the_house_answers(api, bob, rows):
    for endpoint in ("requests", "bindings"):
        response = api(bob).get(URLS[endpoint], {"tenant": 999999})
        assert response.status_code == 200 and response.json()["results"] == []


def test_a_change_with_a_query_parameter_is_refused_whole(api, operator, rows):
    # ?dry_run=true ignored would save what the client meant only to try.
    before = db_state()
    for endpoint, body in (("policy", {"weight": "2"}), ("settings", {"release_slack": 20})):
        response = api(operator).patch(URLS[endpoint].format(**rows) + "?dry_run=true", body, format="json")
        assert response.status_code == 400 and list(response.json()["errors"]) == ["dry_run"], response.content
    assert db_state() == before


def test_a_refusal_for_lack_of_rights_comes_before_judging_the_query(api, bob, rows):
    for endpoint in ("policy", "settings"):
        response = api(bob).patch(URLS[endpoint].format(**rows) + "?dry_run=true", {"weight": "2"}, format="json")
        assert response.status_code == 403, response.content


UNKNOWN_IDS = [
    "/api/v1/scheduling/requests/999999/", "/api/v1/scheduling/requests/999999/why/",
    "/api/v1/scheduling/requests/abc/why/", "/api/v1/scheduling/requests/-1/why/",
    f"/api/v1/scheduling/requests/{'9' * 30}/why/", "/api/v1/scheduling/bindings/999999/",
    "/api/v1/scheduling/bindings/abc/", "/api/v1/tenants/999999/share/", "/api/v1/tenants/abc/share/",
    "/api/v1/tenants/-1/share/", "/api/v1/tenants/0/share/", f"/api/v1/tenants/{'9' * 30}/share/",
    "/api/v1/tenants/%D9%A1/share/",  # an Arabic-Indic digit one: a digit to str.isdigit, not an id
    "/api/v1/tenants/999999/scheduling-policy/", "/api/v1/tenants/abc/scheduling-policy/",
]


@pytest.mark.parametrize("url", UNKNOWN_IDS)
def test_an_id_that_names_nothing_is_a_404_problem_even_with_a_bad_query(api, bob, rows, url):
    for query in ({}, {"page": "-1"}):
        response = api(bob).get(url, query)
        assert response.status_code == 404, (url, response.content)
        assert response["Content-Type"] == PROBLEM and response.json()["code"] == "not_found"


def test_an_unknown_tenant_is_a_404_for_a_change_too(api, operator, rows):
    before = db_state()
    response = api(operator).patch("/api/v1/tenants/abc/scheduling-policy/", {"weight": "2"}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert db_state() == before
