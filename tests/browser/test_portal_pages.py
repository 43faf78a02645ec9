"""The portal in a real browser: sign in through the form, read the pages, submit the forms."""

import re

import pytest
from playwright.sync_api import expect

from tenants.models import Namespace, NamespaceUsage, ResourcePlan, Tenant

pytestmark = pytest.mark.browser


def test_tenant_admin_signs_in_reads_team_a_and_creates_a_child(sign_in, screenshot, tree, cluster):
    namespace = Namespace.objects.create(tenant=tree["a_dev"], cluster=cluster, name="a-dev")
    NamespaceUsage.objects.create(namespace=namespace, resource="cpu", used=10000)
    NamespaceUsage.objects.create(namespace=namespace, resource="pods", used=12)
    page = sign_in("alice")
    tenants = page.get_by_role("list", name="Your tenants")
    expect(tenants.get_by_role("link", name="Team A")).to_be_visible()
    expect(tenants.get_by_role("link", name="A Dev")).to_be_visible()

    tenants.get_by_role("link", name="Team A").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Team A")
    quota = page.locator("section", has=page.get_by_role("heading", name="Quota"))
    expect(quota.locator(".bar")).to_have_count(4)
    expect(quota.get_by_role("img", name=re.compile(r"^cpu: 10000 used, 16000 owned, limit 32000"))).to_be_visible()
    members = page.locator("section", has=page.get_by_role("heading", name="Members"))
    expect(members.get_by_role("row", name=re.compile("user alice"))).to_contain_text("tenant-admin")
    expect(members.get_by_role("row", name=re.compile("user bob"))).to_contain_text("member")
    screenshot("tenant-detail")

    page.get_by_role("link", name="New child tenant").click()
    page.get_by_label("Name").fill("A Prod")
    page.get_by_label("Slug").fill("prod")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("status")).to_contain_text("Created tenant A Prod")
    expect(page.get_by_role("heading", level=1)).to_contain_text("A Prod")
    assert Tenant.objects.filter(full_slug="org/a/prod").exists()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tenants").click()
    expect(page.get_by_role("list", name="Your tenants").get_by_role("link", name="A Prod")).to_be_visible()


def test_a_bad_quota_value_is_a_form_error_and_changes_nothing(sign_in, screenshot, tree):
    page = sign_in("alice")
    page.get_by_role("link", name="A Dev").click()
    page.get_by_role("link", name="Edit quota plan").click()
    page.get_by_label("cpu owned (millicores)").fill("12.5")
    page.get_by_role("button", name="Save quota plan").click()
    expect(page.get_by_role("alert")).to_contain_text("cpu.owned must be a whole number")
    expect(page.get_by_label("cpu owned (millicores)")).to_have_attribute("aria-invalid", "true")
    screenshot("quota-error")
    assert not ResourcePlan.objects.filter(tenant=tree["a_dev"]).exists()


def test_other_tenants_admin_sees_no_team_a_and_gets_the_404_page(sign_in, tree):
    page = sign_in("charlie")
    tenants = page.get_by_role("list", name="Your tenants")
    expect(tenants.get_by_role("link", name="Team B")).to_be_visible()
    expect(page.get_by_text("Team A")).to_have_count(0)

    response = page.goto(f"/tenants/{tree['a'].pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_text("Team A")).to_have_count(0)
