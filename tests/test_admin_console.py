"""The operators' console: every model is browsable, state changes go through services."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tenants.admin import TenantAdmin
from tenants.models import AuditEvent, Namespace, NamespaceUsage, Operation, Tenant
from tenants.services.operations import operation_create

pytestmark = pytest.mark.django_db

MODELS = ["tenant", "resourceplan", "membership", "cluster", "namespace", "namespaceusage", "auditevent",
          "operation", "apitoken", "oidcidentity"]


@pytest.fixture
def console(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_changelist(console, tree, cluster, model):
    ns = Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-web")
    NamespaceUsage.objects.create(namespace=ns, resource="cpu", used=100)
    operation_create(type="demo.work", tenant=tree["a"])
    response = console.get(reverse(f"admin:tenants_{model}_changelist"))
    assert response.status_code == 200


def test_tenant_changelist_shows_the_tree_indented_and_searchable(console, tree):
    response = console.get(reverse("admin:tenants_tenant_changelist"), {"q": "dev"})
    assert b"org/a/dev" in response.content and b"org/b" not in response.content


def test_suspend_action_goes_through_the_service_and_is_audited(console, tree):
    response = console.post(reverse("admin:tenants_tenant_changelist"),
                            {"action": "suspend", "_selected_action": [tree["b"].pk]})
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tree["b"].pk).state == "suspended"
    event = AuditEvent.objects.get(action="tenant.suspend")
    assert event.actor_name == "operator" and event.reason == "admin console"


def test_state_and_tree_fields_are_read_only(console, tree):
    response = console.post(reverse("admin:tenants_tenant_change", args=[tree["a"].pk]),
                            {"name": "Team A2", "slug": "zzz", "description": "", "state": "suspended",
                             "PlanInline-TOTAL_FORMS": "0", "PlanInline-INITIAL_FORMS": "0",
                             "plans-TOTAL_FORMS": "0", "plans-INITIAL_FORMS": "0",
                             "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content[:2000]
    tenant = Tenant.objects.get(pk=tree["a"].pk)
    assert (tenant.name, tenant.slug, tenant.state) == ("Team A2", "a", "active")
    assert AuditEvent.objects.filter(action="tenant.update", after__name="Team A2").exists()


def test_audit_events_and_operations_cannot_be_edited_in_the_console(console, tree):
    operation, _ = operation_create(type="demo.work", tenant=tree["a"])
    assert console.get(reverse("admin:tenants_operation_change", args=[operation.pk])).status_code == 200
    assert console.post(reverse("admin:tenants_operation_change", args=[operation.pk]),
                        {"state": "succeeded"}).status_code == 403
    assert Operation.objects.get(pk=operation.pk).state == "queued"


def test_non_staff_users_are_sent_to_the_login(client, alice, tree):
    client.force_login(alice)
    assert client.get(reverse("admin:tenants_tenant_changelist")).status_code == 302


def test_registering_a_cluster_in_the_console_encrypts_its_token_and_audits_only_the_source(console, db):
    from tenants.models import Cluster

    response = console.post(reverse("admin:tenants_cluster_add"), {
        "name": "prod", "api_url": "https://127.0.0.1:1", "token": "super-secret-token", "kubeconfig": "",
        "ca_cert": "", "credentials_ref": "", "description": "", "nodes-TOTAL_FORMS": "0",
        "nodes-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content[:3000]
    cluster = Cluster.objects.get(name="prod")
    assert cluster.credentials_encrypted and "super-secret-token" not in cluster.credentials_encrypted
    assert cluster.health == "unreachable"  # nothing listens on port 1; registration still succeeds
    event = AuditEvent.objects.get(action="cluster.create")
    assert event.after["auth_from"] == "token" and "super-secret-token" not in str(event.after)
    page = console.get(reverse("admin:tenants_cluster_change", args=[cluster.pk])).content.decode()
    assert "super-secret-token" not in page


def test_bulk_delete_is_not_offered_for_tenants_and_cannot_bypass_the_service(console, tree):
    changelist = reverse("admin:tenants_tenant_changelist")
    assert b'value="delete_selected"' not in console.get(changelist).content
    response = console.post(changelist, {"action": "delete_selected", "_selected_action": [tree["a_dev"].pk],
                                         "post": "yes"})
    assert response.status_code in (200, 302)
    assert Tenant.objects.filter(pk=tree["a_dev"].pk).exists()
    assert not AuditEvent.objects.filter(action="tenant.delete").exists()


def test_a_queryset_delete_in_the_console_goes_through_the_service_leaves_first(console, tree):
    # delete_queryset is what Django's bulk delete calls: it deletes through tenant_delete.
    leaf = Tenant.objects.add_child(Tenant.objects.get(pk=tree["a_dev"].pk), instance=Tenant(
        parent=tree["a_dev"], name="Leaf", slug="leaf", full_slug="org/a/dev/leaf"))
    request = console.get(reverse("admin:tenants_tenant_changelist")).wsgi_request
    TenantAdmin(Tenant, admin.site).delete_queryset(
        request, Tenant.objects.filter(pk__in=[tree["a_dev"].pk, leaf.pk]))
    assert not Tenant.objects.filter(pk__in=[tree["a_dev"].pk, leaf.pk]).exists()
    assert AuditEvent.objects.filter(action="tenant.delete").count() == 2
