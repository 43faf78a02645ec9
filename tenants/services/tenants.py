"""Creating, changing and removing tenants of the tree."""

from __future__ import annotations

import contextlib

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from backends.errors import BackendError
from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.access import access_for, forget_access
from tenants.models import Membership, Role, Tenant

from .audit import audit_record, snapshot
from .keystone_calls import keystone, keystone_errors

AUDITED_FIELDS = ["name", "slug", "full_slug", "description", "state", "parent", "keystone_project_id"]


def _require_admin_over(actor, tenant: Tenant | None, *, action: str) -> None:
    """Changing a tenant's place or limits is for its parent's admins (roots: operators)."""
    access = access_for(actor)
    if tenant is None:
        if not access.is_operator:
            raise PermissionDenied(f"Only operators may {action} a top-level tenant.")
        return
    if not access.has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to {action}.",
                               tenant=tenant.pk)


def tenant_ensure_active(tenant: Tenant) -> None:
    """A suspended tenant blocks new work in its whole subtree."""
    lineage = [tenant, *Tenant.objects.filter(path__in=tenant.ancestor_paths())]
    suspended = [t for t in lineage if t.state != Tenant.State.ACTIVE]
    if suspended:
        raise Conflict(f"Tenant '{suspended[0].full_slug}' is suspended; nothing new can start below it.",
                       code="tenant_suspended", tenant=suspended[0].pk)


def tenant_create(*, name: str, slug: str, parent: Tenant | None, actor, description: str = "",
                  keystone_project_id: str | None = None, keystone_domain_id: str = "") -> Tenant:
    """Create a tenant under ``parent`` (or a root), mirrored into Keystone when it is on."""
    _require_admin_over(actor, parent, action="create a tenant here")
    if parent is not None:
        tenant_ensure_active(parent)
        if parent.depth + 1 > settings.TENANT_MAX_DEPTH:
            raise InvalidInput(
                f"'{parent.full_slug}' is at depth {parent.depth}; the tree allows at most "
                f"{settings.TENANT_MAX_DEPTH} levels.", code="tenant_too_deep",
                max_depth=settings.TENANT_MAX_DEPTH)
    full_slug = f"{parent.full_slug}/{slug}" if parent else slug
    if Tenant.objects.filter(parent=parent, slug=slug).exists():
        raise InvalidInput(f"'{full_slug}' already exists: slugs are unique among siblings.",
                           code="slug_taken", field="slug")

    mirrored = settings.KEYSTONE_ENABLED and keystone_project_id is None
    if mirrored:
        keystone_project_id, keystone_domain_id = _keystone_project_create(parent, full_slug, description)

    fields = dict(name=name, slug=slug, full_slug=full_slug, description=description,
                  keystone_project_id=keystone_project_id, keystone_domain_id=keystone_domain_id)
    try:
        return _tenant_insert_retrying(parent, fields, actor)
    except BaseException:
        if mirrored:
            # Keystone said yes but the portal said no: take the project back rather than
            # leave one the portal does not know (the next import would adopt it).
            with contextlib.suppress(BackendError):
                keystone().client().project_delete(keystone_project_id)
        raise


def _keystone_project_create(parent: Tenant | None, full_slug: str, description: str) -> tuple[str, str]:
    if parent is not None and not parent.keystone_project_id:
        raise Conflict(f"'{parent.full_slug}' has no Keystone project yet (it predates Keystone); import or "
                       "recreate it before adding children.", code="keystone_parent_missing", tenant=parent.pk)
    with keystone_errors():
        project = keystone().client().project_create(
            name=keystone().project_name_for(full_slug), description=description,
            domain_id=parent.keystone_domain_id if parent else settings.KEYSTONE_DOMAIN_ID,
            parent_id=parent.keystone_project_id if parent else None,
        )
    return project.id, project.domain_id


def _tenant_insert_retrying(parent: Tenant | None, fields: dict, actor) -> Tenant:
    slug, full_slug = fields["slug"], fields["full_slug"]
    for attempt in range(3):
        try:
            return tenant_insert(parent=parent, fields=fields, actor=actor)
        except IntegrityError:
            # Either the slug was taken meanwhile, or a concurrent insert took the next
            # materialised path (roots have no parent row to lock): retry only the latter.
            if Tenant.objects.filter(parent=parent, slug=slug).exists() or attempt == 2:
                raise InvalidInput(f"'{full_slug}' already exists: slugs are unique among siblings.",
                                   code="slug_taken", field="slug") from None
    raise AssertionError("unreachable")


def tenant_insert(*, parent: Tenant | None, fields: dict, actor, action: str = "tenant.create") -> Tenant:
    """Insert a row into the tree and audit it, with no permission check: callers decide.

    ``parent`` must be fresh from the database (treebeard computes the path from it).
    A human creator becomes the tenant's admin; the system (``actor`` None) does not.
    """
    with transaction.atomic():
        if parent is None:
            tenant = Tenant.objects.add_root(instance=Tenant(parent=None, **fields))
        else:
            # treebeard locks the parent row, so concurrent siblings get distinct paths.
            tenant = Tenant.objects.add_child(parent, instance=Tenant(parent=parent, **fields))
        access = access_for(actor)
        if actor is not None and not access.is_operator and not access.has_role(tenant, Role.TENANT_ADMIN):
            Membership.objects.create(tenant=tenant, user=actor, role=Role.TENANT_ADMIN, inherited=True,
                                      granted_by=actor)
            forget_access(actor)
        audit_record(actor=actor, action=action, target=tenant, tenant=tenant,
                     after=snapshot(tenant, AUDITED_FIELDS))
    return tenant


def tenant_update(*, tenant: Tenant, actor, name: str | None = None, description: str | None = None) -> Tenant:
    """Rename or describe a tenant. Slug and parent never change (Keystone's parent is immutable)."""
    if not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to change it.")
    before = snapshot(tenant, AUDITED_FIELDS)
    if (description is not None and description != tenant.description and settings.KEYSTONE_ENABLED
            and tenant.keystone_project_id):
        # Keystone holds the description too, and the import copies it back: keep both equal.
        with keystone_errors():
            keystone().client().project_update(tenant.keystone_project_id, description=description)
    if name is not None:
        tenant.name = name
    if description is not None:
        tenant.description = description
    with transaction.atomic():
        tenant.save(update_fields=["name", "description", "updated_at"])
        audit_record(actor=actor, action="tenant.update", target=tenant, tenant=tenant, before=before,
                     after=snapshot(tenant, AUDITED_FIELDS))
    return tenant


def tenant_set_state(*, tenant: Tenant, state: str, actor, reason: str = "") -> Tenant:
    """Suspend or resume a tenant (its parent's admins or operators decide)."""
    _require_admin_over(actor, tenant.parent, action="suspend or resume this tenant")
    before = snapshot(tenant, AUDITED_FIELDS)
    with transaction.atomic():
        tenant.state = state
        tenant.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action=f"tenant.{'suspend' if state == Tenant.State.SUSPENDED else 'resume'}",
                     target=tenant, tenant=tenant, before=before, after=snapshot(tenant, AUDITED_FIELDS),
                     reason=reason)
    return tenant


def tenant_delete(*, tenant: Tenant, actor) -> None:
    """Delete an empty tenant: no children, no namespaces. Its plans and memberships go with it.

    The portal's rows go first and Keystone's project last, in one transaction: rows of other
    apps that hold the tenant (releases, apps, repositories, scheduling requests and bindings,
    all PROTECT) refuse the deletion with 409 before Keystone is touched, and a Keystone
    failure rolls the rows back. Nothing is half deleted either way.
    """
    _require_admin_over(actor, tenant.parent, action="delete this tenant")
    if tenant.numchild or Tenant.objects.filter(parent=tenant).exists():
        raise Conflict(f"'{tenant.full_slug}' still has child tenants; delete them first.",
                       code="tenant_not_empty", children=tenant.numchild)
    namespaces = list(tenant.namespaces.values_list("name", flat=True)[:20])
    if namespaces:
        raise Conflict(f"'{tenant.full_slug}' still owns namespaces: {', '.join(namespaces)}.",
                       code="tenant_not_empty", namespaces=namespaces)
    before = snapshot(tenant, AUDITED_FIELDS)
    try:
        with transaction.atomic():
            audit_record(actor=actor, action="tenant.delete", target=tenant, tenant=tenant.parent, before=before)
            tenant.memberships.all().delete()
            tenant.plans.all().delete()
            Tenant.objects.get(pk=tenant.pk).delete()
            if settings.KEYSTONE_ENABLED and tenant.keystone_project_id:
                with keystone_errors():
                    keystone().client().project_delete(tenant.keystone_project_id)
    except ProtectedError as exc:
        held = _holders(exc.protected_objects)
        raise Conflict(f"'{tenant.full_slug}' is still used by {_describe(held)}; remove those first. Nothing "
                       "was deleted.", code="tenant_not_empty", held_by=held) from None


def _holders(objects) -> dict[str, dict]:
    """{model label: {"count": n, "examples": [a few rows]}} for the rows that hold a tenant."""
    held: dict[str, dict] = {}
    for obj in objects:
        entry = held.setdefault(obj._meta.label_lower, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < 5:
            entry["examples"].append(str(obj)[:100])
    return dict(sorted(held.items()))


def _describe(held: dict[str, dict]) -> str:
    parts = []
    for label, entry in held.items():
        meta = apps.get_model(label)._meta
        noun = meta.verbose_name if entry["count"] == 1 else meta.verbose_name_plural
        examples = ", ".join(repr(e) for e in entry["examples"])
        more = f" and {entry['count'] - len(entry['examples'])} more" if entry["count"] > len(entry["examples"]) else ""
        parts.append(f"{entry['count']} {noun} ({examples}{more})")
    return "; ".join(parts)
