"""The waiting pods on a tenant's scheduling page: each with its reason, and when the list is cut,
the page says how many there are rather than look complete."""

from __future__ import annotations

import pytest

from scheduling import views
from scheduling.models import SchedulingRequest

pytestmark = pytest.mark.django_db


def _page(client, user, tenant) -> str:
    client.force_login(user)
    return client.get(f"/tenants/{tenant.pk}/scheduling/").content.decode()


def _waiting(cluster, tenant, n: int, state: str = "Pending", reason: str = "PENDING_NO_CAPACITY") -> None:
    SchedulingRequest.objects.bulk_create(
        SchedulingRequest(cluster=cluster, tenant=tenant, key=f"a-web/{state.lower()}-{i}", namespace="a-web",
                          name=f"{state.lower()}-{i}", demand={"cpu": 1000}, state=state, reason=reason)
        for i in range(n))


def test_a_cut_list_says_how_many_pods_wait(client, alice, tree, cluster, monkeypatch):
    monkeypatch.setattr(views, "WAITING_SHOWN", 3)  # the page's cap, small enough to reach here
    _waiting(cluster, tree["a"], 5)
    page = _page(client, alice, tree["a"])
    assert page.count("<code>a-web/") == 3
    assert "Showing the first 3 of 5 pods that wait or were rejected" in page


def test_a_whole_list_reads_as_whole(client, alice, tree, cluster, monkeypatch):
    monkeypatch.setattr(views, "WAITING_SHOWN", 3)
    _waiting(cluster, tree["a"], 2)
    page = _page(client, alice, tree["a"])
    assert page.count("<code>a-web/") == 2 and "Showing the first" not in page


def test_a_member_of_another_tenant_sees_nothing_of_its_waiting_pods(client, charlie, tree, cluster):
    _waiting(cluster, tree["a"], 2)
    client.force_login(charlie)
    assert client.get(f"/tenants/{tree['a'].pk}/scheduling/").status_code == 404


def test_rejected_pods_are_listed_apart_from_the_waiting_ones(client, alice, tree, cluster):
    _waiting(cluster, tree["a"], 1)
    _waiting(cluster, tree["a"], 1, state="Rejected", reason="REJECT_NEVER_FITS")
    page = _page(client, alice, tree["a"])
    waiting, rejected = page.split("Rejected pods", 1)
    assert "a-web/pending-0" in waiting and "a-web/rejected-0" not in waiting
    assert "a-web/rejected-0" in rejected and "REJECT_NEVER_FITS" in rejected
