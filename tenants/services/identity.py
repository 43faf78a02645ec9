"""Single sign-on: turn the claims an OIDC provider vouches for into a portal user and groups.

The user is keyed on (issuer, sub) through OidcIdentity. Email and username are
display data: an IdP lets people change them, and matching on them would let
whoever gets a recycled address (or a local account's name) into someone else's
account. So an OIDC login never adopts an existing local user; it links or
creates one.

Groups: the IdP owns the group list of every user who signs in through it. On each
login the user's django Groups are set to exactly the values of OIDC_GROUPS_CLAIM
(a missing claim means no groups), so a group removed at the IdP stops granting
its tenant roles at the next login. Groups assigned by hand in the admin to such a
user are therefore overwritten; grant access to OIDC users with group memberships
(Membership.group) or per-user memberships instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.access import forget_access
from tenants.models import OidcIdentity

from .audit import audit_record

logger = logging.getLogger(__name__)

# django.contrib.auth's limits; longer values are cut (usernames) or refused (groups).
_USERNAME_MAX = 150
_GROUP_NAME_MAX = 150


def groups_from_claims(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The group names in ``claims[claim]``: a list of strings or one string; anything else is ignored."""
    raw = claims.get(claim)
    if raw is None:
        return []
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, (list, tuple)) else []
    names: set[str] = set()
    for value in values:
        name = value.strip() if isinstance(value, str) else ""
        if not name or len(name) > _GROUP_NAME_MAX:
            logger.warning("OIDC claim %r: ignoring group value %r", claim, value)
            continue
        names.add(name)
    return sorted(names)


def _unique_username(wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``… if a different user already holds it."""
    User = get_user_model()
    base = wanted[:_USERNAME_MAX]
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = f"{base[:_USERNAME_MAX - len(suffix)]}{suffix}"
    return candidate


def _profile(claims: Mapping[str, Any]) -> dict[str, str]:
    def text(name: str, limit: int) -> str:
        value = claims.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    return {"email": text("email", 254), "first_name": text("given_name", 150), "last_name": text("family_name", 150)}


def _create_user(*, issuer: str, subject: str, claims: Mapping[str, Any]):
    User = get_user_model()
    wanted = claims.get(settings.OIDC_USERNAME_CLAIM)
    wanted = wanted.strip() if isinstance(wanted, str) and wanted.strip() else subject
    user = User(username=_unique_username(wanted), **_profile(claims))
    # Only the IdP can sign this user in; a local password would be a second, unmanaged way in.
    user.set_unusable_password()
    user.save()
    OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    return user


def user_sync_from_claims(*, issuer: str, claims: Mapping[str, Any], create: bool = True,
                          interactive: bool = True):
    """The active user for these verified claims, created or updated, with groups set from the claims.

    Returns None when the user is unknown and ``create`` is false, or is deactivated.
    ``interactive`` is false for API bearer tokens, which are checked on every request:
    those only leave an audit event when they create the user or change its groups.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ValueError("OIDC claims carry no 'sub'")
    group_names = groups_from_claims(claims, settings.OIDC_GROUPS_CLAIM)

    with transaction.atomic():
        identity = OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        created = False
        if identity is None:
            if not create:
                return None
            try:
                # A savepoint, so the losing side of two simultaneous first logins can re-read the winner.
                with transaction.atomic():
                    user = _create_user(issuer=issuer, subject=subject, claims=claims)
                created = True
            except IntegrityError:
                identity = OidcIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
        if identity is not None:
            user = identity.user
            if not user.is_active:
                return None
            changed = {k: v for k, v in _profile(claims).items() if v and getattr(user, k) != v}
            if changed:
                for name, value in changed.items():
                    setattr(user, name, value)
                user.save(update_fields=list(changed))
            # auto_now: when the IdP last vouched for this identity. Bearer tokens are checked on
            # every API request, so they refresh it at most once a minute rather than write each time.
            if interactive or (timezone.now() - identity.last_login_at).total_seconds() > 60:
                identity.save(update_fields=["last_login_at"])

        before = sorted(user.groups.values_list("name", flat=True))
        if before != group_names:
            existing = {g.name: g for g in Group.objects.filter(name__in=group_names)}
            groups = [existing.get(name) or Group.objects.get_or_create(name=name)[0] for name in group_names]
            user.groups.set(groups)
            forget_access(user)
        if interactive or created or before != group_names:
            audit_record(actor=user, action="user.oidc_login", target=user,
                         before={"groups": before} if not created else None,
                         after={"issuer": issuer, "subject": subject, "groups": group_names, "created": created,
                                "via": "login" if interactive else "bearer"})
    return user
