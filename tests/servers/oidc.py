"""A real OpenID Connect provider (npm oidc-provider 8.8.1) on loopback, and a scripted browser for it.

The provider uses its built-in devInteractions login and consent pages (any password
is accepted; the login name becomes ``sub``). Accounts live in a JSON file the test
rewrites with ``set_accounts``; the provider re-reads it on every lookup, so claims
can change between two logins without restarting it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".cache" / "oidc-provider" / "node_modules"
CLIENT_ID, CLIENT_SECRET = "portal", "portal-secret"
# Another application of the same realm: its users' tokens must not open the portal's API.
OTHER_CLIENT_ID, OTHER_CLIENT_SECRET = "other-app", "other-app-secret"

PROVIDER_MJS = r"""
import fs from 'node:fs';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
const ISSUER = process.env.ISSUER;
const ACCOUNTS_FILE = process.env.ACCOUNTS_FILE;
const REDIRECT_URIS = JSON.parse(process.env.REDIRECT_URIS);

const oidc = new Provider(ISSUER, {
  clients: [[process.env.CLIENT_ID, process.env.CLIENT_SECRET],
            [process.env.OTHER_CLIENT_ID, process.env.OTHER_CLIENT_SECRET]].map(([id, secret]) => ({
      client_id: id, client_secret: secret,
      redirect_uris: REDIRECT_URIS, grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'RS256' })),
  // 'groups' rides on the profile scope, so it is served by the userinfo endpoint.
  claims: { openid: ['sub'], email: ['email', 'email_verified'],
            profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'] },
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true }, introspection: { enabled: true } },
  async findAccount(ctx, id) {
    const accounts = JSON.parse(fs.readFileSync(ACCOUNTS_FILE, 'utf8'));
    const account = accounts[id];
    return account && { accountId: id, async claims() { return { ...account, sub: id }; } };
  },
});
oidc.listen(PORT, '127.0.0.1', () => console.log(`oidc-provider listening on ${ISSUER}`));
"""


class _FormParser(HTMLParser):
    """The first <form> of a page: its action, method and named inputs."""

    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self._done:
            self._in_form, self.action, self.method = True, attrs.get("action") or "", attrs.get("method") or "get"
        elif tag == "input" and self._in_form and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True


@dataclass
class OidcProvider:
    issuer: str
    accounts_file: Path
    log_file: Path
    discovery: dict = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # the last flow, for failure messages

    def set_accounts(self, accounts: dict[str, dict]) -> None:
        """Replace the provider's accounts: {login name (= sub): claims}."""
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts))
        tmp.replace(self.accounts_file)

    def django_settings(self) -> dict:
        return {
            "OIDC_ENABLED": True,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_RP_SCOPES": "openid email profile",
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.discovery["authorization_endpoint"],
            "OIDC_OP_TOKEN_ENDPOINT": self.discovery["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": self.discovery["userinfo_endpoint"],
            "OIDC_OP_JWKS_ENDPOINT": self.discovery["jwks_uri"],
            "OIDC_OP_INTROSPECTION_ENDPOINT": self.discovery["introspection_endpoint"],
            "AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend", "tenants.oidc.PortalOIDCBackend"],
        }

    def drive(self, session: requests.Session, url: str, *, login: str, stop_at: str | None = None):
        """Follow redirects and submit the provider's login and consent forms, as a browser would.

        Returns the URL of the first redirect that starts with ``stop_at`` (without requesting
        it), or else the first response that is neither a redirect nor a form.
        """
        method, data = "GET", None
        self.steps = []
        for _ in range(20):
            response = session.request(method, url, data=data, allow_redirects=False, timeout=15)
            self.steps.append(f"{method} {url} -> {response.status_code}")
            if response.is_redirect:
                url, method, data = urljoin(response.url, response.headers["Location"]), "GET", None
                if stop_at and url.startswith(stop_at):
                    return url
                continue
            form = _FormParser()
            form.feed(response.text if "html" in response.headers.get("Content-Type", "") else "")
            # Only the provider's pages are filled in: a form from the portal means the flow came back.
            if response.status_code != 200 or form.action is None or not response.url.startswith(self.issuer):
                return response
            data = dict(form.fields)
            if "login" in data:
                data.update(login=login, password="any-password")
            url, method = urljoin(response.url, form.action), form.method.upper()
        raise AssertionError("the OIDC flow did not finish within 20 steps:\n" + "\n".join(self.steps))

    def access_token(self, *, login: str, redirect_uri: str,
                     client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET)) -> str:
        """An access token for ``login``, by the authorization-code flow (as any OIDC client would)."""
        client_id, client_secret = client
        query = urlencode({"client_id": client_id, "response_type": "code", "scope": "openid email profile",
                           "redirect_uri": redirect_uri, "state": "s-123", "nonce": "n-123"})
        back = self.drive(requests.Session(), f"{self.discovery['authorization_endpoint']}?{query}", login=login,
                          stop_at=redirect_uri)
        assert isinstance(back, str), f"the provider did not redirect back: {back.status_code} {back.text[:300]}"
        params = parse_qs(urlparse(back).query)
        assert params.get("state") == ["s-123"], params
        response = requests.post(self.discovery["token_endpoint"], timeout=15, data={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": redirect_uri,
            "client_id": client_id, "client_secret": client_secret})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory):
    """The provider, with client 'portal' allowed to redirect to the live server's /oidc/callback/."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "oidc-provider" / "package.json").is_file():
        pytest.fail(f"The OIDC tests need node and oidc-provider in {NODE_MODULES}; run `make test-deps`.",
                    pytrace=False)
    workdir = tmp_path_factory.mktemp("oidc-provider")
    # ESM ignores NODE_PATH: a bare import is resolved from node_modules next to the script.
    (workdir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    (workdir / "provider.mjs").write_text(PROVIDER_MJS)
    port = _free_port()
    provider = OidcProvider(issuer=f"http://127.0.0.1:{port}", accounts_file=workdir / "accounts.json",
                            log_file=workdir / "provider.log")
    provider.set_accounts({})
    callback = urlparse(live_server.url)
    redirect_uris = [f"http://{host}:{callback.port}/oidc/callback/" for host in ("localhost", "127.0.0.1")]
    env = {**os.environ, "PORT": str(port), "ISSUER": provider.issuer, "ACCOUNTS_FILE": str(provider.accounts_file),
           "REDIRECT_URIS": json.dumps(redirect_uris), "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "OTHER_CLIENT_ID": OTHER_CLIENT_ID, "OTHER_CLIENT_SECRET": OTHER_CLIENT_SECRET}
    with provider.log_file.open("w") as log:
        process = subprocess.Popen([node, "provider.mjs"], cwd=workdir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"oidc-provider exited with {process.returncode}:\n{provider.log_file.read_text()}",
                            pytrace=False)
            try:
                response = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2)
                if response.status_code == 200:
                    provider.discovery = response.json()
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"oidc-provider did not answer in 30 s:\n{provider.log_file.read_text()}", pytrace=False)
            time.sleep(0.1)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
