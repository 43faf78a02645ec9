import contextlib
import hashlib
import time

import requests
from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from mozilla_django_oidc.contrib.drf import OIDCAuthentication, get_oidc_backend
from requests import RequestException
from rest_framework import authentication, exceptions, status


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token bdp_…`` — tokens made by ``manage.py api_token create``."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Token <token>' with exactly one token.")
        from tenants.services.tokens import api_token_authenticate

        user = api_token_authenticate(header[1].decode(errors="replace"))
        if user is None:
            raise exceptions.AuthenticationFailed("The API token is unknown, revoked or expired.")
        return user, None

    def authenticate_header(self, request):
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "bluedock_portal.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token bdp_…` from `python manage.py api_token create --user NAME`."}


class IdentityProviderUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The identity provider could not check the bearer token; try again shortly."
    default_code = "identity_provider_unavailable"


class OidcBearerAuthentication(OIDCAuthentication):
    """``Authorization: Bearer <access token>`` from the OIDC provider, checked at its userinfo endpoint.

    Always listed in REST_FRAMEWORK, and active only while OIDC_ENABLED: DRF binds the
    authentication classes when its views are imported, so a list built from the setting
    at import time could not follow a later change (nor the tests' ``settings`` fixture).
    """

    def __init__(self, backend=None):
        # The parent resolves the backend here and fails without one; we do it per request.
        self._backend = backend

    @property
    def backend(self):
        if self._backend is None:
            self._backend = get_oidc_backend()
        return self._backend

    def authenticate(self, request):
        if not settings.OIDC_ENABLED:
            return None
        token = self.get_access_token(request)
        if token is None:
            return None
        try:
            _require_issued_to_portal(token)
            return super().authenticate(request)
        except RequestException as exc:
            # The parent turns a 401 with WWW-Authenticate into AuthenticationFailed; other refusals
            # of the token are the client's problem too, while errors and timeouts are the IdP's.
            response = getattr(exc, "response", None)
            if response is not None and response.status_code in (400, 401, 403):
                raise exceptions.AuthenticationFailed("The identity provider rejected the bearer token.")
            raise IdentityProviderUnavailable() from exc


def _require_issued_to_portal(token: str) -> None:
    """RFC 7662: the token must be active and issued to the portal (or to a client it trusts).
    The userinfo endpoint answers for any client's token of the realm, so a token an unrelated
    application received for the same user would otherwise open the portal's API to it."""
    if not settings.OIDC_OP_INTROSPECTION_ENDPOINT:
        raise exceptions.AuthenticationFailed(
            "This portal takes OIDC bearer tokens only once OIDC_OP_INTROSPECTION_ENDPOINT is set, so that it can "
            "tell whether a token was issued to it; use an API token ('Authorization: Token bdp_…').")
    # A client calls the API many times with one token: its accepted answer is kept a short while
    # (OIDC_INTROSPECTION_CACHE_SECONDS; a revoked token is taken that much longer), by the token's
    # digest, never the token itself.
    key = "oidc-introspected:" + hashlib.sha256(token.encode()).hexdigest()
    if settings.OIDC_INTROSPECTION_CACHE_SECONDS and _cached(key):
        return
    data, auth = {"token": token, "token_type_hint": "access_token"}, None
    credentials = (settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET)
    if getattr(settings, "OIDC_TOKEN_USE_BASIC_AUTH", False):  # as the token endpoint is called
        auth = credentials
    else:
        data.update(client_id=credentials[0], client_secret=credentials[1])
    response = requests.post(settings.OIDC_OP_INTROSPECTION_ENDPOINT, data=data, auth=auth,
                             timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
    response.raise_for_status()
    answer = response.json()
    if not isinstance(answer, dict) or answer.get("active") is not True:
        raise exceptions.AuthenticationFailed("The bearer token is not active.")
    # Whose token it is: client_id (RFC 7662), or azp where a provider names the client that way. Not
    # ``aud``: providers add other clients to it (Keycloak does for a token carrying their roles).
    trusted = {settings.OIDC_RP_CLIENT_ID, *settings.OIDC_API_CLIENTS}
    if answer.get("client_id", answer.get("azp")) not in trusted:
        raise exceptions.AuthenticationFailed(
            "The bearer token was issued to another client; the portal takes tokens issued to it "
            "(OIDC_RP_CLIENT_ID) or to a client listed in OIDC_API_CLIENTS.")
    if settings.OIDC_INTROSPECTION_CACHE_SECONDS:
        keep, expires = settings.OIDC_INTROSPECTION_CACHE_SECONDS, answer.get("exp")
        if isinstance(expires, int | float):  # never past the token's own expiry
            keep = min(keep, int(expires - time.time()))
        if keep > 0:
            with contextlib.suppress(Exception):  # the cache is a saving, never a reason to refuse a call
                cache.set(key, True, keep)


def _cached(key: str) -> bool:
    try:
        return bool(cache.get(key))
    except Exception:  # noqa: BLE001 — Redis down: ask the provider, as without a cache
        return False


class OidcBearerScheme(OpenApiAuthenticationExtension):
    target_class = "bluedock_portal.api.authentication.OidcBearerAuthentication"
    name = "oidcBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An access token from the OIDC provider (only when OIDC_ENABLED)."}
