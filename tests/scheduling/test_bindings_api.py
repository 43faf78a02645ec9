"""Bindings: the append-only record of who holds which share, through the API and the console."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from scheduling.models import Binding

pytestmark = pytest.mark.django_db
URL = "/api/v1/scheduling/bindings/"


@pytest.fixture
def held(tree, cluster):
    """a holds 2 cpu owned (one hold already ended); b borrows 4 cpu under org."""
    common = {"cluster": cluster, "pass_seq": 7, "config_version": 2}

    def hold(tenant, request, **extra):
        return Binding.objects.create(tenant=tenant, event="open", request=request, namespace=request.split("/")[0],
                                      pods=[request.split("/")[1]], **common,
                                      **{"share": "owned", "reason": "ADMITTED_WITHIN_OWNED", "demand": {"cpu": 1000},
                                         **extra})

    a1, a2 = hold(tree["a"], "a-web/web-1"), hold(tree["a"], "a-web/web-2")
    ended = hold(tree["a"], "a-web/web-0")
    Binding.objects.create(tenant=tree["a"], event="close", opened=ended, request=ended.request, namespace="a-web",
                           share="owned", demand=ended.demand, reason="FINISHED", **common)
    b1 = hold(tree["b"], "b-batch/job", share="borrowed", reason="ADMITTED_BORROWING", demand={"cpu": 4000},
              borrowed={"cpu": 4000}, lender_scope=f"t{tree['org'].pk}", lender=tree["org"])
    return {"a1": a1, "a2": a2, "ended": ended, "b1": b1}


def test_a_member_lists_the_tenants_holds_and_how_they_ended(api, bob, tree, held):
    rows = api(bob).get(URL, {"tenant": tree["a"].pk}).json()["results"]
    assert [(r["event"], r["request"]) for r in rows] == [
        ("close", "a-web/web-0"), ("open", "a-web/web-0"), ("open", "a-web/web-2"), ("open", "a-web/web-1")]
    closed = next(r for r in rows if r["event"] == "open" and r["request"] == "a-web/web-0")
    assert closed["closed_by"] == rows[0]["id"] and rows[0]["opened"] == closed["id"]
    assert rows[0]["reason"] == "FINISHED"
    current = api(bob).get(URL, {"tenant": tree["a"].pk, "open": "true"}).json()["results"]
    assert sorted(r["request"] for r in current) == ["a-web/web-1", "a-web/web-2"]
    assert all(r["share"] == "owned" and r["lender_scope"] == "" and r["tenant_path"] == "org/a" for r in current)


def test_a_borrowed_hold_names_its_lender_scope_only_to_who_may_see_it(api, operator, charlie, held):
    (mine,) = api(charlie).get(URL, {"open": "true"}).json()["results"]
    assert mine["share"] == "borrowed" and mine["borrowed"] == {"cpu": 4000}
    assert mine["lender_scope"] == "another tenant"  # charlie's role is on b, not on org
    assert api(operator).get(f"{URL}{mine['id']}/").json()["lender_scope"] == "org"


def test_member_of_other_tenant_sees_nothing(api, charlie, tree, held):
    client = api(charlie)
    assert client.get(URL, {"tenant": tree["a"].pk}).json()["results"] == []
    assert {r["tenant"] for r in client.get(URL).json()["results"]} == {tree["b"].pk}
    assert client.get(f"{URL}{held['a1'].pk}/").status_code == 404


@pytest.mark.parametrize(("query", "field"), [
    ({"tenant": "abc"}, "tenant"), ({"tenant": "0"}, "tenant"), ({"event": "reopen"}, "event"),
    ({"share": "lent"}, "share"), ({"open": "maybe"}, "open"), ({"cluster": "-1"}, "cluster"),
    ({"request": "x" * 301}, "request"),
])
def test_bad_filters_are_a_clear_400(api, bob, held, query, field):
    response = api(bob).get(URL, query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_bindings_are_append_only(held):
    held["a1"].reason = "edited"
    with pytest.raises(RuntimeError, match="append-only"):
        held["a1"].save()
    with pytest.raises(IntegrityError), transaction.atomic():  # a hold ends once
        Binding.objects.create(cluster=held["a1"].cluster, tenant=held["ended"].tenant, event="close",
                               opened=held["ended"], request=held["ended"].request, namespace="a-web", share="owned",
                               reason="EVICTED", pass_seq=8, config_version=2)
    assert Binding.objects.filter(event="close").count() == 1


def test_the_list_costs_the_same_queries_for_many_rows(api, bob, tree, held, django_assert_max_num_queries):
    client = api(bob)
    client.get(URL)  # session and access caches warm
    with django_assert_max_num_queries(6):
        rows = client.get(URL, {"page_size": 500}).json()["results"]
    assert len(rows) == 4


def test_the_console_shows_bindings_read_only(client, operator, held):
    client.force_login(operator)
    page = client.get(reverse("admin:scheduling_binding_changelist"))
    assert page.status_code == 200 and b"a-web/web-1" in page.content
    assert client.get(reverse("admin:scheduling_binding_add")).status_code == 403
    change = client.get(reverse("admin:scheduling_binding_change", args=[held["b1"].pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
