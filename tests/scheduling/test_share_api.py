"""A tenant's share, through the real cycle: ``lent_out`` is what other tenants hold of its idle
owned capacity (never more than its lend limit), split among them by ``who_is_borrowing_from``;
``entitlement`` is its water-filling fair share of what its pods run and wait for."""

from __future__ import annotations

import pytest

from tenants.models import ResourcePlan
from tests.scheduling.seed import cycle_until, deployment, gated, running, setup_seed
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db


def _share(client, tenant) -> dict:
    (share,) = client.get(f"/api/v1/tenants/{tenant.pk}/share/").json()["clusters"]
    return share


def test_the_lender_sees_what_the_borrower_holds_and_each_tenant_its_fair_share(sandbox_api, operator, api, client):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    backend.apply(deployment("web", "t1-apps", 4))
    backend.apply(deployment("batch", "t2-apps", 12))
    wait_for(lambda: gated(backend, "t1-apps") == 4 and gated(backend, "t2-apps") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 4 and running(backend, "t2-apps") == 12)

    t1 = _share(api(operator), tenants["t1"])
    assert (t1["owned"], t1["used"], t1["borrowed"]) == ({"cpu": 8000}, {"cpu": 4000}, {"cpu": 0})
    assert t1["lent_out"] == {"cpu": 4000} and t1["entitlement"] == {"cpu": 4000}
    assert t1["borrowed_by"] == {"t2": {"cpu": 4000}}
    assert t1["who_is_borrowing_from"] == [{"tenant": "t2", "borrowed": {"cpu": 4000},
                                            "lender_scope": ["the cluster"], "bindings": 4}]
    t2 = _share(api(operator), tenants["t2"])
    assert t2["borrowed"] == {"cpu": 4000} and t2["lent_out"] == {"cpu": 0} and t2["entitlement"] == {"cpu": 12000}
    assert t2["who_is_borrowing_from"] == [] and t2["borrowed_by"] == {}

    client.force_login(operator)
    page = client.get(f"/tenants/{tenants['t1'].pk}/scheduling/").content.decode()
    assert "lent out 4 · fair share 4" in page  # cores on the page, millicores in the API
    assert 'lends 4 of its owned share to other tenants; fair share 4"' in page
    assert "Borrowing from this tenant: t2 (4 cpu)" in page
    assert '<div class="lent" style="left: 50%; width: 50%"></div>' in page  # the idle half of owned, inside it


def test_a_tenant_with_a_lend_limit_of_0_lends_nothing(sandbox_api, operator, api):
    cluster, backend, tenants = setup_seed(sandbox_api.url, "sandbox-admin-token", operator)
    ResourcePlan.objects.filter(tenant=tenants["t1"]).update(lend_limit=0)
    backend.apply(deployment("web", "t1-apps", 1))
    backend.apply(deployment("batch", "t2-apps", 12))
    wait_for(lambda: gated(backend, "t1-apps") == 1 and gated(backend, "t2-apps") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "t1-apps") == 1 and running(backend, "t2-apps") == 8)

    t1 = _share(api(operator), tenants["t1"])
    assert t1["used"] == {"cpu": 1000} and t1["lent_out"] == {"cpu": 0}
    assert t1["who_is_borrowing_from"] == [] and t1["borrowed_by"] == {}
    t2 = _share(api(operator), tenants["t2"])
    assert t2["used"] == {"cpu": 8000} and t2["pending_by_reason"] == {"PENDING_LEND_LIMIT": 4}
