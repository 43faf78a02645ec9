"""The waiting pods on a tenant's scheduling page: each with its reason, and when the list is cut,
the page says how many there are rather than look complete."""

from __future__ import annotations

import pytest
from django.test import Client

from scheduling import views
from scheduling.models import SchedulingRequest

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _waiting(cluster, tenant, n: int) -> None:
    SchedulingRequest.objects.bulk_create(
        SchedulingRequest(cluster=cluster, tenant=tenant, key=f"a-web/web-{i}", namespace="a-web", name=f"web-{i}",
                          demand={"cpu": 1000}, state="Pending", reason="PENDING_NO_CAPACITY") for i in range(n))


def test_a_cut_list_says_how_many_pods_wait(alice, tree, cluster, monkeypatch):
    monkeypatch.setattr(views, "WAITING_SHOWN", 3)  # the page's cap, small enough to reach here
    _waiting(cluster, tree["a"], 5)
    page = login(alice).get(f"/tenants/{tree['a'].pk}/scheduling/").content.decode()
    assert page.count("<code>a-web/web-") == 3
    assert "Showing the first 3 of 5 waiting pods" in page


def test_a_whole_list_reads_as_whole(alice, tree, cluster, monkeypatch):
    monkeypatch.setattr(views, "WAITING_SHOWN", 3)
    _waiting(cluster, tree["a"], 2)
    page = login(alice).get(f"/tenants/{tree['a'].pk}/scheduling/").content.decode()
    assert page.count("<code>a-web/web-") == 2 and "Showing the first" not in page


def test_a_member_of_another_tenant_sees_nothing_of_its_waiting_pods(charlie, tree, cluster):
    _waiting(cluster, tree["a"], 2)
    assert login(charlie).get(f"/tenants/{tree['a'].pk}/scheduling/").status_code == 404
