"""``manage.py api_token create|list|revoke``: API tokens for scripts and CI.

``create`` prints only the token on stdout, so ``TOKEN=$(manage.py api_token create --user ci)``
works; everything meant for people goes to stderr.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants.models import ApiToken
from tenants.services.tokens import TOKEN_PREFIX, api_token_create, api_token_revoke


def _user(username: str):
    User = get_user_model()
    try:
        return User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None


def _state(token: ApiToken, now) -> str:
    if token.revoked_at:
        return "revoked"
    if token.expires_at and token.expires_at <= now:
        return "expired"
    return "active"


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (Authorization: Token <token>)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token and print it (only once, only on stdout).")
        create.add_argument("--user", required=True, help="Username the token acts as.")
        create.add_argument("--name", default="cli", help="A label to recognise the token by.")
        create.add_argument("--expires-days", type=int, default=None, help="Days until it expires (default never).")
        listing = sub.add_parser("list", help="A user's tokens (prefix, name, state); never the secrets.")
        listing.add_argument("--user", required=True)
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix (the part after 'bdp_').")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _create(self, *, user, name, expires_days, **_):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        owner = _user(user)
        if not owner.is_active:
            raise CommandError(f"User {user!r} is inactive; its tokens would not authenticate.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, plaintext = api_token_create(user=owner, name=name, expires_at=expires_at)
        self.stderr.write(f"Created token {token.prefix} for {owner.get_username()}; it is not shown again.")
        self.stdout.write(plaintext)

    def _list(self, *, user, **_):
        now = timezone.now()
        tokens = ApiToken.objects.filter(user=_user(user))
        self.stdout.write(f"{'PREFIX':<14}{'STATE':<9}{'CREATED':<18}{'EXPIRES':<18}{'LAST USED':<18}NAME")
        stamp = "%Y-%m-%d %H:%M"
        for t in tokens:
            self.stdout.write(
                f"{t.prefix:<14}{_state(t, now):<9}{t.created_at.strftime(stamp):<18}"
                f"{t.expires_at.strftime(stamp) if t.expires_at else 'never':<18}"
                f"{t.last_used_at.strftime(stamp) if t.last_used_at else '-':<18}{t.name}")

    def _revoke(self, *, prefix, **_):
        # People paste the whole token or its public start; both identify it.
        parts = prefix.split("_")
        if len(parts) >= 2 and parts[0] == TOKEN_PREFIX:
            prefix = parts[1]
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No API token with prefix {prefix!r}.")
        if token.revoked_at:
            self.stderr.write(f"Token {prefix} was already revoked.")
            return
        api_token_revoke(token=token, actor=None)
        self.stderr.write(f"Revoked token {prefix} of {token.user.get_username()}.")
