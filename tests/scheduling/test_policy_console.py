"""The policy in the portal (read-only, on the tenant's scheduling page) and in the operators' console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduling.models import SchedulingSettings, TenantSchedulingPolicy
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def policy_form(tenant, **changes) -> dict:
    form = {"tenant": tenant.pk, "weight": "1", "share_tier": "0", "reclaim_policy": "Any",
            "within_policy": "LowerPriority", "borrow_preempt_policy": "Never",
            "borrow_preempt_max_priority_threshold": "", "lendout_grace": "", "reclaim_delay": "0",
            "fairshare_delay": "30", "min_runtime_fairshare": "", "queueing": "BestEffortFIFO",
            "quota_preemption_delay": "0", "required_checks": ""}
    return {**form, **changes}


@pytest.fixture
def console(client, operator):
    client.force_login(operator)
    return client


def test_the_scheduling_page_shows_the_policy_read_only(client, bob, tree):
    TenantSchedulingPolicy.objects.create(tenant=tree["org"], required_checks=["example.com/budget-approved"])
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], queueing="StrictFIFO", weight="3/2")
    client.force_login(bob)
    page = client.get(f"/tenants/{tree['a'].pk}/scheduling/").content.decode()
    assert "Scheduling policy" in page and "shares are a contract between tenants" in page
    assert "<code>StrictFIFO</code>" in page and "<code>3/2</code>" in page
    assert "<code>example.com/budget-approved</code>" in page  # required by the parent, so by a too
    assert "<form" not in page.split('id="policy-h"')[1].split("</section>")[0]
    dev = client.get(f"/tenants/{tree['a_dev'].pk}/scheduling/").content.decode()
    assert "the engine's defaults apply" in dev and "<code>BestEffortFIFO</code>" in dev


def test_member_of_other_tenant_sees_nothing_of_the_policy(client, charlie, tree):
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], queueing="StrictFIFO")
    client.force_login(charlie)
    assert client.get(f"/tenants/{tree['a'].pk}/scheduling/").status_code == 404


def test_the_console_lists_both_and_saves_a_policy_through_the_audited_service(console, tree):
    assert console.get(reverse("admin:scheduling_tenantschedulingpolicy_changelist")).status_code == 200
    assert console.get(reverse("admin:scheduling_schedulingsettings_changelist")).status_code == 200
    response = console.post(reverse("admin:scheduling_tenantschedulingpolicy_add"),
                            policy_form(tree["b"], weight="2.5", queueing="StrictFIFO",
                                        required_checks="example.com/a\nexample.com/b\n"))
    assert response.status_code == 302, response.content.decode()[:3000]
    row = TenantSchedulingPolicy.objects.get(tenant=tree["b"])
    assert (row.weight, row.queueing, row.required_checks) == ("5/2", "StrictFIFO", ["example.com/a", "example.com/b"])
    event = AuditEvent.objects.get(action="scheduling.policy_update")
    assert event.actor_name == "operator" and event.after["weight"] == "5/2"
    page = console.get(reverse("admin:scheduling_tenantschedulingpolicy_change", args=[row.pk])).content.decode()
    assert "example.com/a\nexample.com/b" in page


def test_the_console_refuses_what_the_api_refuses_and_saves_nothing(console, tree):
    response = console.post(reverse("admin:scheduling_tenantschedulingpolicy_add"),
                            policy_form(tree["b"], weight="-2", required_checks="bluedock.io/admission"))
    assert response.status_code == 200  # the form again, with the error
    assert "weight: must be in [0, 1000]" in response.content.decode()
    response = console.post(reverse("admin:scheduling_tenantschedulingpolicy_add"),
                            policy_form(tree["b"], required_checks="bluedock.io/admission"))
    assert "belong to the portal itself" in response.content.decode()
    assert not TenantSchedulingPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="scheduling.").exists()


def test_the_console_edits_the_one_settings_row_and_keeps_the_conflict_rule(console, tree):
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], borrow_preempt_policy="LowerPriority")
    form = {"fair_share_preemption": "on", "fs_strategies": ["S2a", "S2b"], "fs_epsilon": "0", "fs_budget": "",
            "fs_budget_window": "10", "release_slack": "10", "borrowing_preference": "BorrowOverPreempt",
            "preempted_priority_boost": "0"}
    response = console.post(reverse("admin:scheduling_schedulingsettings_add"), form)
    assert response.status_code == 200 and "use borrow-preemption" in response.content.decode()
    assert not SchedulingSettings.objects.exists()
    response = console.post(reverse("admin:scheduling_schedulingsettings_add"), {**form, "fs_budget": "0.25",
                                                                                 "fair_share_preemption": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    row = SchedulingSettings.objects.get()
    assert (row.pk, row.fs_budget, row.fair_share_preemption) == (1, "1/4", False)
    assert AuditEvent.objects.filter(action="scheduling.settings_update").count() == 1
    assert console.get(reverse("admin:scheduling_schedulingsettings_add")).status_code == 403  # one row only
