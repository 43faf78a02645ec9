"""Granting, changing and revoking roles on tenants.

Rules: a granter may only grant roles it effectively holds on that tenant (viewers
grant nothing); changing or revoking needs tenant-admin; a tenant keeps at least
one admin binding that reaches it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.access import access_for, forget_access
from tenants.models import Membership, Role, Tenant
from tenants.models.memberships import ROLE_RANK

from .audit import audit_record, snapshot
from .provisioning import namespaces_reconcile_later

AUDITED_FIELDS = ["role", "inherited", "source", "user", "group"]


def _check_can_grant(actor, tenant: Tenant, role: str) -> None:
    access = access_for(actor)
    held = access.role_on(tenant)
    if held is None or ROLE_RANK[held] < ROLE_RANK[Role.MEMBER]:
        raise PermissionDenied(f"You need at least the member role on '{tenant.full_slug}' to add members.")
    if ROLE_RANK[role] > ROLE_RANK[held]:
        raise PermissionDenied(f"You hold '{held}' on '{tenant.full_slug}' and cannot grant '{role}'.",
                               code="role_escalation", held=held, requested=role)


def _check_admin(actor, tenant: Tenant) -> None:
    if not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to change memberships.")


def membership_create(*, tenant: Tenant, actor, role: str, inherited: bool = False, username: str | None = None,
                      group_name: str | None = None) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(Role.values)}.", code="unknown_role")
    if bool(username) == bool(group_name):
        raise InvalidInput("Give exactly one of 'user' or 'group'.", code="membership_subject")
    _check_can_grant(actor, tenant, role)
    user = group = None
    if username:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise InvalidInput(f"No active user '{username}'.", code="unknown_user", field="user")
        existing = Membership.objects.filter(tenant=tenant, user=user)
    else:
        group, _ = Group.objects.get_or_create(name=group_name)
        existing = Membership.objects.filter(tenant=tenant, group=group)
    if existing.exists():
        raise Conflict(f"{'user ' + username if username else 'group ' + group_name} already has a role on "
                       f"'{tenant.full_slug}'; change that membership instead.", code="membership_exists",
                       membership=existing.first().pk)
    with transaction.atomic():
        membership = Membership.objects.create(tenant=tenant, user=user, group=group, role=role,
                                               inherited=inherited, granted_by=actor)
        audit_record(actor=actor, action="membership.create", target=membership, tenant=tenant,
                     after=snapshot(membership, AUDITED_FIELDS))
        namespaces_reconcile_later(tenant)
    if user is not None:
        forget_access(user)
    return membership


def _admin_bindings_reaching(tenant: Tenant, *, excluding: Membership) -> int:
    return (Membership.objects.filter(role=Role.TENANT_ADMIN)
            .filter(tenant=tenant).exclude(pk=excluding.pk).count()
            + Membership.objects.filter(role=Role.TENANT_ADMIN, inherited=True,
                                        tenant__path__in=tenant.ancestor_paths()).count())


def _check_keeps_an_admin(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Role.TENANT_ADMIN or new_role == Role.TENANT_ADMIN:
        return
    if _admin_bindings_reaching(membership.tenant, excluding=membership) == 0:
        raise Conflict(f"'{membership.tenant.full_slug}' must keep at least one admin; grant another admin "
                       "before removing or demoting this one.", code="last_admin")


def membership_update(*, membership: Membership, actor, role: str | None = None,
                      inherited: bool | None = None) -> Membership:
    _check_admin(actor, membership.tenant)
    if membership.source != Membership.Source.PORTAL:
        raise Conflict(f"This membership comes from {membership.source}; change it there.",
                       code="membership_read_only")
    if role is not None and role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(Role.values)}.", code="unknown_role")
    if role is not None:
        _check_can_grant(actor, membership.tenant, role)
    _check_keeps_an_admin(membership, new_role=role if role is not None else membership.role)
    before = snapshot(membership, AUDITED_FIELDS)
    with transaction.atomic():
        if role is not None:
            membership.role = role
        if inherited is not None:
            membership.inherited = inherited
        membership.save(update_fields=["role", "inherited"])
        audit_record(actor=actor, action="membership.update", target=membership, tenant=membership.tenant,
                     before=before, after=snapshot(membership, AUDITED_FIELDS))
        namespaces_reconcile_later(membership.tenant)
    if membership.user_id:
        forget_access(membership.user)
    return membership


def membership_delete(*, membership: Membership, actor) -> None:
    _check_admin(actor, membership.tenant)
    if membership.source != Membership.Source.PORTAL:
        raise Conflict(f"This membership comes from {membership.source}; change it there.",
                       code="membership_read_only")
    _check_keeps_an_admin(membership, new_role=None)
    before = snapshot(membership, AUDITED_FIELDS)
    with transaction.atomic():
        audit_record(actor=actor, action="membership.delete", target=membership, tenant=membership.tenant,
                     before=before)
        membership.delete()
        namespaces_reconcile_later(membership.tenant)
    if membership.user_id:
        forget_access(membership.user)
