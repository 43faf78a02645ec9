"""The mozilla-django-oidc backend for the portal: a thin adapter over user_sync_from_claims.

mozilla-django-oidc finds users by email. The portal keys them on (issuer, sub)
instead; see tenants.services.identity for why and for how groups are mapped.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from tenants.services.identity import user_sync_from_claims

logger = logging.getLogger(__name__)


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """Signs users in with the authorization-code flow and, for the API, with bearer access tokens."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Identities are stored under the issuer, so it must not depend on which flow saw the user:
        # a bearer token carries no id_token, hence no ``iss`` to read.
        self.OIDC_OP_ISSUER = self.get_settings("OIDC_OP_ISSUER", "")
        if not self.OIDC_OP_ISSUER:
            raise ImproperlyConfigured("OIDC_OP_ISSUER must be set when OIDC is enabled")

    def get_user(self, user_id):
        """The session's user, while still active: mozilla-django-oidc's get_user does not check, so a
        user deactivated after signing in kept using the pages (DRF refuses inactive users; views do not)."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def verify_claims(self, claims):
        return isinstance(claims.get("sub"), str) and bool(claims["sub"])

    def get_or_create_user(self, access_token, id_token, payload):
        """The user for an access token; ``payload`` is the verified id_token, or None for a bearer token."""
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SuspiciousOperation("The userinfo response has no 'sub'")
        if payload is not None:
            # mozilla-django-oidc checks the id_token's signature and nonce but not who issued it.
            if payload.get("iss") != self.OIDC_OP_ISSUER:
                raise SuspiciousOperation(f"id_token issuer {payload.get('iss')!r} is not OIDC_OP_ISSUER")
            # OIDC Core 5.3.2: userinfo must be about the subject the id_token names.
            if claims["sub"] != payload.get("sub"):
                raise SuspiciousOperation("userinfo 'sub' differs from the id_token's")
        user = user_sync_from_claims(issuer=self.OIDC_OP_ISSUER, claims=claims,
                                     create=self.get_settings("OIDC_CREATE_USER", True),
                                     interactive=payload is not None)
        if user is None:
            logger.info("OIDC login refused for sub %r: unknown (OIDC_CREATE_USER off) or inactive", claims["sub"])
        return user
