"""The Keystone mirror against a real Keystone: the API writes through, the import reads back."""

from __future__ import annotations

import pytest

from tenants import tasks
from tenants.models import AuditEvent, Operation, Tenant
from tenants.services.keystone_sync import keystone_import

pytestmark = [pytest.mark.keystone, pytest.mark.django_db]


def _post_tenant(client, slug, parent=None):
    response = client.post("/api/v1/tenants/", {"name": slug.title(), "slug": slug, "parent": parent},
                           format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _project(keystone_admin, domain, name, parent=None, **extra):
    return keystone_admin.identity.create_project(name=name, domain_id=domain, parent_id=parent or domain, **extra)


def test_tenant_tree_created_through_the_api_becomes_keystone_projects_with_the_same_parents(
        api, operator, keystone_on, keystone_admin, keystone_domain):
    client = api(operator)
    acme = _post_tenant(client, "acme")
    web = _post_tenant(client, "web", acme["id"])
    dev = _post_tenant(client, "dev", web["id"])

    projects = {t["slug"]: keystone_admin.identity.get_project(t["keystone_project_id"]) for t in (acme, web, dev)}
    assert [projects[s].name for s in ("acme", "web", "dev")] == ["acme", "acme.web", "acme.web.dev"]
    assert projects["acme"].parent_id == keystone_domain
    assert projects["web"].parent_id == acme["keystone_project_id"]
    assert projects["dev"].parent_id == web["keystone_project_id"]
    assert {p.domain_id for p in projects.values()} == {keystone_domain}


def test_deleting_a_tenant_deletes_its_keystone_project(api, operator, keystone_on, keystone_admin):
    client = api(operator)
    leaf = _post_tenant(client, "gone")
    assert client.delete(f"/api/v1/tenants/{leaf['id']}/").status_code == 204
    assert keystone_admin.identity.find_project(leaf["keystone_project_id"]) is None


def test_a_name_keystone_already_has_is_refused_and_nothing_is_stored(api, operator, keystone_on, keystone_admin,
                                                                      keystone_domain):
    _project(keystone_admin, keystone_domain, "taken")
    response = api(operator).post("/api/v1/tenants/", {"name": "T", "slug": "taken", "parent": None}, format="json")
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "keystone_rejected" and "already has a project named 'taken'" in body["detail"]
    assert not Tenant.objects.filter(slug="taken").exists()


def test_keystone_down_makes_tenant_creation_answer_503_and_stores_nothing(api, operator, keystone_down):
    before = Tenant.objects.count()
    response = api(operator).post("/api/v1/tenants/", {"name": "X", "slug": "x", "parent": None}, format="json")
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "keystone_unavailable"
    assert Tenant.objects.count() == before


def test_import_builds_the_keystone_tree_and_a_second_run_changes_nothing(keystone_on, keystone_admin,
                                                                           keystone_domain):
    keystone_on.TENANT_MAX_DEPTH = 3
    keystone_on.KEYSTONE_EXCLUDE_PROJECTS = ["internal"]
    retail = _project(keystone_admin, keystone_domain, "Retail", description="Shops")
    web = _project(keystone_admin, keystone_domain, "Web", retail.id)
    _project(keystone_admin, keystone_domain, "retail.web", retail.id)  # same slug as its sibling "Web"
    prod = _project(keystone_admin, keystone_domain, "Prod", web.id)
    _project(keystone_admin, keystone_domain, "Canary", prod.id)  # depth 4 > TENANT_MAX_DEPTH
    internal = _project(keystone_admin, keystone_domain, "internal")
    _project(keystone_admin, keystone_domain, "internal-child", internal.id)

    first = keystone_import()

    tenants = {t.full_slug: t for t in Tenant.objects.filter(keystone_domain_id=keystone_domain)}
    assert sorted(tenants) == ["retail", "retail/web", "retail/web-2", "retail/web/prod"]
    assert tenants["retail"].depth == 1 and tenants["retail"].parent is None
    assert tenants["retail"].name == "Retail" and tenants["retail"].description == "Shops"
    assert tenants["retail/web"].parent == tenants["retail"] and tenants["retail/web"].depth == 2
    assert tenants["retail/web/prod"].parent == tenants["retail/web"] and tenants["retail/web/prod"].depth == 3
    assert tenants["retail/web"].keystone_project_id == web.id
    assert {(s["name"], s["reason"]) for s in first["skipped"]} == {
        ("Canary", "too_deep"), ("internal", "excluded"), ("internal-child", "parent_skipped")}
    assert AuditEvent.objects.filter(action="tenant.keystone_sync", actor=None).count() == 4

    tenant_count, audit_count = Tenant.objects.count(), AuditEvent.objects.count()
    second = keystone_import()
    assert (second["created"], second["updated"], second["unchanged"]) == ([], [], 4)
    assert (Tenant.objects.count(), AuditEvent.objects.count()) == (tenant_count, audit_count)


def test_import_adopts_nothing_twice_from_tenants_the_portal_created(api, operator, keystone_on):
    client = api(operator)
    _post_tenant(client, "dev", _post_tenant(client, "acme")["id"])
    summary = keystone_import()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == ([], [], 2)


def test_a_project_disabled_in_keystone_suspends_its_tenant(keystone_on, keystone_admin, keystone_domain):
    project = _project(keystone_admin, keystone_domain, "ops")
    keystone_import()
    keystone_admin.identity.update_project(project.id, is_enabled=False)

    summary = keystone_import()

    tenant = Tenant.objects.get(keystone_project_id=project.id)
    assert tenant.state == Tenant.State.SUSPENDED and summary["suspended"] == ["ops"]
    event = AuditEvent.objects.filter(action="tenant.keystone_sync", target_id=str(tenant.pk)).latest("pk")
    assert event.before["state"] == "active" and event.after["state"] == "suspended" and event.actor_name == "system"


def test_a_project_deleted_in_keystone_suspends_its_tenant_and_is_reported(keystone_on, keystone_admin,
                                                                           keystone_domain):
    project = _project(keystone_admin, keystone_domain, "legacy")
    keystone_import()
    keystone_admin.identity.delete_project(project.id)

    summary = keystone_import()

    tenant = Tenant.objects.get(keystone_project_id=project.id)  # suspended, never deleted
    assert tenant.state == Tenant.State.SUSPENDED
    assert summary["gone"] == [{"tenant": tenant.pk, "full_slug": "legacy", "project_id": project.id}]


def test_non_operator_cannot_start_a_keystone_sync(api, alice, tree, keystone_on):
    response = api(alice).post("/api/v1/keystone/sync/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert not Operation.objects.exists()


def test_keystone_sync_is_refused_while_keystone_is_disabled(api, operator, settings):
    settings.KEYSTONE_ENABLED = False
    response = api(operator).post("/api/v1/keystone/sync/")
    assert response.status_code == 409 and response.json()["code"] == "keystone_disabled"
    assert tasks.keystone_reconcile() == "disabled"


def test_sync_operation_run_by_its_task_succeeds_with_a_summary(api, operator, keystone_on, keystone_admin,
                                                                keystone_domain):
    _project(keystone_admin, keystone_domain, "imported")
    client = api(operator)
    response = client.post("/api/v1/keystone/sync/", HTTP_IDEMPOTENCY_KEY="sync-1")
    assert response.status_code == 202, response.content
    operation = response.json()
    assert operation["type"] == "keystone.sync" and operation["state"] == "queued"
    assert client.post("/api/v1/keystone/sync/", HTTP_IDEMPOTENCY_KEY="sync-1").json()["id"] == operation["id"]

    tasks.keystone_sync_run(operation["id"])

    done = client.get(f"/api/v1/operations/{operation['id']}/").json()
    assert done["state"] == "succeeded" and done["progress"] == 100
    assert done["result"]["created"] == ["imported"] and done["result"]["domain_id"] == keystone_domain
    assert tasks.keystone_sync_run(operation["id"]) is None  # a second delivery finds it done


def test_sync_operation_goes_back_to_the_queue_while_keystone_is_down(operator, keystone_down):
    from backends.errors import BackendTransientError
    from tenants.services.operations import operation_create

    operation, _ = operation_create(type="keystone.sync", actor=operator)
    with pytest.raises(BackendTransientError):
        tasks.keystone_sync_run(operation.pk)
    operation.refresh_from_db()
    assert operation.state == Operation.State.QUEUED and "will retry" in operation.message


def test_a_description_changed_in_the_portal_reaches_keystone_and_the_import_keeps_it(
        api, operator, keystone_on, keystone_admin):
    client = api(operator)
    tenant = _post_tenant(client, "docs")
    response = client.patch(f"/api/v1/tenants/{tenant['id']}/", {"description": "Handbooks"}, format="json")
    assert response.status_code == 200, response.content
    assert keystone_admin.identity.get_project(tenant["keystone_project_id"]).description == "Handbooks"
    assert keystone_import()["updated"] == []


def test_a_tenant_other_rows_hold_keeps_its_keystone_project(api, operator, keystone_on, keystone_admin):
    from scheduling.models import SchedulingRequest
    from tenants.models import Cluster

    client = api(operator)
    leaf = _post_tenant(client, "held")
    cluster = Cluster.objects.create(name="k", api_url="http://127.0.0.1:6443")
    SchedulingRequest.objects.create(cluster=cluster, tenant_id=leaf["id"], key="ns/job", namespace="ns", name="job",
                                     state="pending", reason="waiting")
    response = client.delete(f"/api/v1/tenants/{leaf['id']}/")
    assert response.status_code == 409 and response.json()["code"] == "tenant_not_empty", response.content
    assert Tenant.objects.filter(pk=leaf["id"]).exists()
    assert keystone_admin.identity.find_project(leaf["keystone_project_id"]) is not None


def test_keystone_down_at_deletion_answers_503_and_the_tenant_stays(api, operator, keystone_down):
    tenant = Tenant.objects.add_root(instance=Tenant(name="K", slug="k", full_slug="k", keystone_project_id="p-k"))
    response = api(operator).delete(f"/api/v1/tenants/{tenant.pk}/")
    assert response.status_code == 503 and response.json()["code"] == "keystone_unavailable", response.content
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    assert not AuditEvent.objects.filter(action="tenant.delete").exists()
