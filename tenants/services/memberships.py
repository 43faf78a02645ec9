"""Granting, changing and revoking roles on tenants.

Rules: a granter may only grant roles it effectively holds on that tenant (viewers
grant nothing), and an inherited role only if its own role reaches the whole subtree;
changing or revoking needs tenant-admin; a tenant, and every tenant below it that a
binding reaches, keeps at least one admin binding. Subjects whose Kubernetes name
starts with ``system:`` are refused: they are the API server's own users and groups
(``system:authenticated`` is everyone with a token).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from bluedock_portal.errors import Conflict, InvalidInput, PermissionDenied
from tenants.access import access_for, forget_access
from tenants.models import Membership, Role, Tenant
from tenants.models.memberships import ROLE_RANK
from tenants.provisioning.desired import RESERVED_SUBJECT_PREFIX

from .audit import audit_record, snapshot
from .provisioning import namespaces_reconcile_later

AUDITED_FIELDS = ["role", "inherited", "source", "user", "group"]


def _check_subject_allowed(*, username: str | None, group_name: str | None) -> None:
    """Kubernetes keeps ``system:`` for its own users and groups (system:masters, system:authenticated,
    system:serviceaccounts…): a RoleBinding to one grants the role to the cluster's components or to
    everyone. KUBERNETES_*_PREFIX is applied first, as provisioning does."""
    kind, name, prefix = (("user", username, settings.KUBERNETES_USER_PREFIX) if username
                          else ("group", group_name, settings.KUBERNETES_GROUP_PREFIX))
    if (prefix + name).startswith(RESERVED_SUBJECT_PREFIX):
        raise InvalidInput(f"The {kind} '{name}' would be bound in Kubernetes as '{prefix + name}': names starting "
                           f"with '{RESERVED_SUBJECT_PREFIX}' belong to Kubernetes itself and cannot be given "
                           "tenant roles.", code="subject_reserved", field=kind)


def _check_can_grant(actor, tenant: Tenant, role: str, *, inherited: bool = False) -> None:
    access = access_for(actor)
    held = access.role_on(tenant)
    if held is None or ROLE_RANK[held] < ROLE_RANK[Role.MEMBER]:
        raise PermissionDenied(f"You need at least the member role on '{tenant.full_slug}' to add members.")
    if ROLE_RANK[role] > ROLE_RANK[held]:
        raise PermissionDenied(f"You hold '{held}' on '{tenant.full_slug}' and cannot grant '{role}'.",
                               code="role_escalation", held=held, requested=role)
    if inherited and not access.is_operator:
        # An inherited binding reaches every tenant below: the granter's own role must reach them too.
        reaching = [g.role for g in access.grants_on(tenant) if g.inherited]
        held_below = max(reaching, key=lambda r: ROLE_RANK[r]) if reaching else None
        if held_below is None or ROLE_RANK[role] > ROLE_RANK[held_below]:
            raise PermissionDenied(
                f"Your role on '{tenant.full_slug}' does not extend to the tenants below it as '{role}', so you "
                f"cannot grant '{role}' as inherited; grant it without 'inherited', or ask an admin of a tenant "
                "above.", code="role_escalation", held=held, held_on_subtree=held_below, requested=role,
                inherited=True)


def _check_admin(actor, tenant: Tenant) -> None:
    if not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"You need the tenant-admin role on '{tenant.full_slug}' to change memberships.")


def membership_create(*, tenant: Tenant, actor, role: str, inherited: bool = False, username: str | None = None,
                      group_name: str | None = None) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(Role.values)}.", code="unknown_role")
    if bool(username) == bool(group_name):
        raise InvalidInput("Give exactly one of 'user' or 'group'.", code="membership_subject")
    _check_subject_allowed(username=username, group_name=group_name)
    _check_can_grant(actor, tenant, role, inherited=inherited)
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


def _tenants_losing_their_last_admin(membership: Membership, *, new_role: str | None,
                                     new_inherited: bool) -> list[Tenant]:
    """The tenants that ``membership`` makes admin and that no other admin binding reaches, once it is
    changed to (``new_role``, ``new_inherited``) — ``new_role`` None means deleted.

    An inherited admin binding is what makes the tenants below administrable: demoting it, deleting
    it or making it non-inherited must not leave one of them without an admin.
    """
    if membership.role != Role.TENANT_ADMIN:
        return []
    tenant = membership.tenant
    still_admin = new_role == Role.TENANT_ADMIN
    losing_here = not still_admin
    losing_below = membership.inherited and not (still_admin and new_inherited)
    if not (losing_here or losing_below):
        return []
    others = list(Membership.objects.filter(role=Role.TENANT_ADMIN).exclude(pk=membership.pk)
                  .filter(Q(tenant__path__startswith=tenant.path)
                          | Q(inherited=True, tenant__path__in=tenant.ancestor_paths()))
                  .values_list("tenant_id", "tenant__path", "inherited"))

    def has_another_admin(t: Tenant) -> bool:
        return any(tid == t.pk or (inherited and t.path.startswith(path)) for tid, path, inherited in others)

    losing = ([tenant] if losing_here else []) + (
        list(Tenant.objects.filter(path__startswith=tenant.path).exclude(pk=tenant.pk)) if losing_below else [])
    return [t for t in losing if not has_another_admin(t)]


def _check_keeps_an_admin(membership: Membership, *, new_role: str | None, new_inherited: bool = False) -> None:
    orphaned = _tenants_losing_their_last_admin(membership, new_role=new_role, new_inherited=new_inherited)
    if not orphaned:
        return
    paths = [t.full_slug for t in orphaned]
    shown = ", ".join(f"'{p}'" for p in paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
    raise Conflict(f"{shown} must keep at least one admin, and this binding is the only admin that reaches "
                   f"{'it' if len(paths) == 1 else 'them'}; grant another admin before removing, demoting or "
                   "un-inheriting this one.", code="last_admin", tenants=paths[:50])


def membership_update(*, membership: Membership, actor, role: str | None = None,
                      inherited: bool | None = None) -> Membership:
    _check_admin(actor, membership.tenant)
    if membership.source != Membership.Source.PORTAL:
        raise Conflict(f"This membership comes from {membership.source}; change it there.",
                       code="membership_read_only")
    if role is not None and role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'; use one of {', '.join(Role.values)}.", code="unknown_role")
    new_role = role if role is not None else membership.role
    new_inherited = inherited if inherited is not None else membership.inherited
    # Re-saving what the binding already reaches is no grant; extending it below, or raising it there, is.
    widens_below = new_inherited and (not membership.inherited
                                      or ROLE_RANK[new_role] > ROLE_RANK[membership.role])
    if role is not None or widens_below:
        _check_can_grant(actor, membership.tenant, new_role, inherited=widens_below)
    _check_keeps_an_admin(membership, new_role=new_role, new_inherited=new_inherited)
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
