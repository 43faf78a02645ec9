"""Importing Keystone's project tree into the tenant tree (Keystone is the source of truth).

Top-level projects of KEYSTONE_DOMAIN_ID become root tenants, their children child
tenants, parents first. Tenants are matched by ``keystone_project_id``; a match gets
Keystone's description and, when the project was renamed in Keystone, its name.
Disabled projects suspend their tenants; resuming stays an operator's decision, so a
re-enabled project does not undo a suspension someone else may have made. Projects
gone from Keystone are reported and their tenants suspended, never deleted: the
tenant still owns namespaces and audit history. Nothing changes on a second run.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections import defaultdict, deque
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bluedock_portal.errors import Conflict, PermissionDenied
from tenants.access import access_for
from tenants.models import Operation, Tenant

from .audit import audit_record, snapshot
from .keystone_calls import keystone
from .operations import operation_create, operation_progress, operation_run
from .tenants import AUDITED_FIELDS, tenant_insert

ACTION = "tenant.keystone_sync"
OPERATION_TYPE = "keystone.sync"
# pg_advisory_lock key ("keystone" in ASCII, truncated): one import at a time across workers.
_LOCK_KEY = 0x6B657973746F6E
_PROGRESS_EVERY = 25


def keystone_sync_request(*, actor, idempotency_key: str = "") -> Operation:
    """Queue an import (operators only); the same idempotency key returns the first operation."""
    if not access_for(actor).is_operator:
        raise PermissionDenied("Only operators may synchronise the tenant tree with Keystone.")
    if not settings.KEYSTONE_ENABLED:
        raise Conflict("Keystone is not enabled on this portal (KEYSTONE_ENABLED=false).", code="keystone_disabled")
    operation, _ = operation_create(type=OPERATION_TYPE, actor=actor, idempotency_key=idempotency_key)
    return operation


def keystone_sync_run(*, operation_id: int, final_attempt: bool = False) -> dict | None:
    """Run a queued sync operation to its end (see operations.operation_run for retries)."""

    def work(operation: Operation) -> dict:
        if not settings.KEYSTONE_ENABLED:
            raise Conflict("Keystone was disabled meanwhile.", code="keystone_disabled")
        return keystone_import(operation=operation)

    return operation_run(operation_id=operation_id, work=work, final_attempt=final_attempt, done_message=lambda s: (
        f"{len(s['created'])} created, {len(s['updated'])} updated, {len(s['gone'])} gone, "
        f"{len(s['skipped'])} skipped"))


def keystone_import(*, actor=None, operation: Operation | None = None) -> dict:
    """Bring the tenant tree in line with the domain's projects; returns what was done.

    Backend errors propagate: callers (tasks) decide whether to retry.
    """
    domain_id = settings.KEYSTONE_DOMAIN_ID
    with _one_import_at_a_time():
        projects = keystone().client().project_list(domain_id=domain_id)
        _progress(operation, 10, f"{len(projects)} projects in Keystone")
        wanted, skipped = project_walk(projects, domain_id=domain_id, exclude=set(settings.KEYSTONE_EXCLUDE_PROJECTS),
                                       max_depth=settings.TENANT_MAX_DEPTH)
        summary = {"domain_id": domain_id, "projects": len(projects), "created": [], "updated": [],
                   "suspended": [], "gone": [], "skipped": skipped, "unchanged": 0}
        by_project = {t.keystone_project_id: t for t in Tenant.objects.filter(keystone_project_id__isnull=False)}
        for done, (project, depth) in enumerate(wanted, start=1):
            _import_one(project, depth, by_project, summary, actor=actor, domain_id=domain_id)
            if done % _PROGRESS_EVERY == 0:
                _progress(operation, 10 + 80 * done // len(wanted), f"{done}/{len(wanted)} projects imported")
        _suspend_gone({p.id for p in projects}, summary, actor=actor, domain_id=domain_id)
    return summary


def project_walk(projects, *, domain_id: str, exclude: set[str], max_depth: int) -> tuple[list, list[dict]]:
    """Order projects parents first (breadth-first from the domain) and set aside those we cannot import.

    Returns ([(project, depth)], [skipped]); a skipped project's descendants are skipped too.
    """
    children = defaultdict(list)
    for project in projects:
        children[project.parent_id].append(project)
    wanted, skipped = [], []
    queue = deque((p, 1, None) for p in sorted(children[domain_id], key=lambda p: p.name))
    while queue:
        project, depth, inherited = queue.popleft()
        reason = inherited or ("excluded" if project.name in exclude else "too_deep" if depth > max_depth else None)
        if reason:
            skipped.append({"project_id": project.id, "name": project.name, "depth": depth, "reason": reason})
        else:
            wanted.append((project, depth))
        below = reason and ("too_deep" if reason == "too_deep" else "parent_skipped")
        queue.extend((c, depth + 1, below) for c in sorted(children[project.id], key=lambda p: p.name))
    return wanted, skipped


def slug_for(project_name: str) -> str:
    """A DNS-1123 label from the last "."-segment of a project name ("Org.Web Shop" → "web-shop")."""
    last = unicodedata.normalize("NFKD", project_name.rsplit(".", 1)[-1]).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:63].strip("-")
    return slug or "project"


def _free_slug(base: str, parent: Tenant | None) -> str:
    taken = set(Tenant.objects.filter(parent=parent).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        suffix = f"-{n}"
        slug = base[: 63 - len(suffix)].rstrip("-") + suffix
    return slug


def _import_one(project, depth: int, by_project: dict, summary: dict, *, actor, domain_id: str) -> None:
    tenant = by_project.get(project.id)
    if tenant is not None:
        _update(tenant, project, summary, actor=actor)
        return
    parent = None
    if project.parent_id != domain_id:
        parent = by_project.get(project.parent_id)
        if parent is None or parent.depth + 1 > settings.TENANT_MAX_DEPTH:
            # The parent tenant is missing, or sits deeper in the portal than the project in Keystone.
            summary["skipped"].append({"project_id": project.id, "name": project.name, "depth": depth,
                                       "reason": "parent_not_imported" if parent is None else "too_deep"})
            return
        parent = Tenant.objects.get(pk=parent.pk)  # treebeard needs the parent's current numchild
    slug = _free_slug(slug_for(project.name), parent)
    fields = dict(name=project.name.rsplit(".", 1)[-1][:100], slug=slug, description=project.description,
                  full_slug=f"{parent.full_slug}/{slug}" if parent else slug,
                  state=Tenant.State.ACTIVE if project.enabled else Tenant.State.SUSPENDED,
                  keystone_project_id=project.id, keystone_domain_id=project.domain_id,
                  keystone_synced_at=timezone.now())
    tenant = tenant_insert(parent=parent, fields=fields, actor=actor, action=ACTION)
    by_project[project.id] = tenant
    summary["created"].append(tenant.full_slug)


def _update(tenant: Tenant, project, summary: dict, *, actor) -> None:
    # The portal names a project after the tenant's path; only a different name means a rename in Keystone.
    renamed = project.name != keystone().project_name_for(tenant.full_slug)
    wanted = {"name": project.name.rsplit(".", 1)[-1][:100] if renamed else tenant.name,
              "description": project.description,
              "state": tenant.state if project.enabled else Tenant.State.SUSPENDED}
    changed = [field for field, value in wanted.items() if getattr(tenant, field) != value]
    if not changed:
        summary["unchanged"] += 1
        return
    _write(tenant, wanted, actor=actor, reason="Keystone project changed")
    summary["updated"].append(tenant.full_slug)
    if "state" in changed:
        summary["suspended"].append(tenant.full_slug)


def _suspend_gone(present: set[str], summary: dict, *, actor, domain_id: str) -> None:
    gone = (Tenant.objects.filter(keystone_domain_id=domain_id, keystone_project_id__isnull=False)
            .exclude(keystone_project_id__in=present))
    for tenant in gone:
        summary["gone"].append({"tenant": tenant.pk, "full_slug": tenant.full_slug,
                                "project_id": tenant.keystone_project_id})
        if tenant.state != Tenant.State.SUSPENDED:
            _write(tenant, {"state": Tenant.State.SUSPENDED}, actor=actor, reason="Keystone project deleted")
            summary["suspended"].append(tenant.full_slug)


def _write(tenant: Tenant, values: dict, *, actor, reason: str) -> None:
    before = snapshot(tenant, AUDITED_FIELDS)
    for field, value in values.items():
        setattr(tenant, field, value)
    tenant.keystone_synced_at = timezone.now()
    with transaction.atomic():
        tenant.save(update_fields=[*values, "keystone_synced_at", "updated_at"])
        audit_record(actor=actor, action=ACTION, target=tenant, tenant=tenant, before=before,
                     after=snapshot(tenant, AUDITED_FIELDS), reason=reason)


def _progress(operation: Operation | None, percent: int, message: str) -> None:
    if operation is not None:
        operation_progress(operation=operation, progress=percent, message=message)


@contextlib.contextmanager
def _one_import_at_a_time() -> Iterator[None]:
    # A session lock, not a transaction: progress and each tenant commit as they happen. The
    # second import waits, then lists Keystone afresh and finds nothing to do.
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
