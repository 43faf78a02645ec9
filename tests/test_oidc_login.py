"""Single sign-on through a real OIDC provider, end to end: browser flow and API bearer tokens.

Nothing is mocked: requests plays the browser against the node provider and the Django
live server, and mozilla-django-oidc swaps the code at the real token endpoint.
"""

import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from tenants.models import AuditEvent, Membership, OidcIdentity, Role, Tenant
from tenants.services.identity import groups_from_claims
from tests.servers.oidc import OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, oidc_provider  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.oidc]

DANA = {"preferred_username": "dana", "email": "dana@example.test", "email_verified": True,
        "given_name": "Dana", "family_name": "Scully", "groups": ["team-a"]}
ERIN = {"preferred_username": "erin", "email": "erin@example.test"}  # no groups claim at all


@pytest.fixture
def sso(settings, oidc_provider, live_server):  # noqa: F811
    """OIDC switched on for this test; ``sso.login(name)`` signs in and returns the browser session."""
    for name, value in oidc_provider.django_settings().items():
        setattr(settings, name, value)

    class Sso:
        provider = oidc_provider
        url = live_server.url

        def login(self, login: str, *, start: str = "/oidc/authenticate/") -> requests.Session:
            browser = requests.Session()
            final = oidc_provider.drive(browser, f"{live_server.url}{start}", login=login)
            assert final.status_code == 200 and "/login/" not in final.url, "\n".join(oidc_provider.steps)
            self.final_url = final.url
            return browser

        def get(self, browser, path):
            return browser.get(f"{live_server.url}{path}", timeout=15)

    oidc_provider.set_accounts({"u-1001": DANA, "u-1002": ERIN})
    return Sso()


@pytest.fixture
def team_a(tree):
    """Group 'team-a' is a member of tenant a: what the IdP's 'team-a' group is worth in the portal."""
    group = Group.objects.create(name="team-a")
    Membership.objects.create(tenant=tree["a"], group=group, role=Role.MEMBER)
    return group


def test_first_login_creates_the_user_from_claims_and_links_the_identity(sso, db):
    browser = sso.login("u-1001")
    assert sso.final_url == f"{sso.url}{reverse('portal:tenant-tree')}"  # LOGIN_REDIRECT_URL
    me = sso.get(browser, "/api/v1/users/me/").json()
    assert me["username"] == "dana" and me["email"] == "dana@example.test" and me["groups"] == ["team-a"]
    user = get_user_model().objects.get(username="dana")
    assert (user.first_name, user.last_name) == ("Dana", "Scully")
    assert not user.has_usable_password()
    identity = OidcIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (sso.provider.issuer, "u-1001")
    event = AuditEvent.objects.get(action="user.oidc_login")
    assert event.actor == user and event.after["groups"] == ["team-a"] and event.after["created"] is True


def test_login_returns_to_the_next_url(sso, db):
    browser = sso.login("u-1001", start="/oidc/authenticate/?next=/api/v1/users/me/")
    assert sso.final_url == f"{sso.url}/api/v1/users/me/"
    assert sso.get(browser, "/api/v1/users/me/").json()["username"] == "dana"


def test_second_login_reuses_the_user_even_if_email_and_username_changed(sso, db):
    sso.login("u-1001")
    first = get_user_model().objects.get(username="dana")
    sso.provider.set_accounts({"u-1001": {**DANA, "email": "dana.scully@example.test",
                                          "preferred_username": "dscully"}})
    me = sso.get(sso.login("u-1001"), "/api/v1/users/me/").json()
    assert me["username"] == "dana" and me["email"] == "dana.scully@example.test"
    assert get_user_model().objects.filter(oidc_identities__subject="u-1001").get().pk == first.pk
    assert OidcIdentity.objects.count() == 1 and AuditEvent.objects.filter(action="user.oidc_login").count() == 2


def test_login_never_takes_over_a_local_user_with_the_same_username_or_email(sso, bob):
    sso.provider.set_accounts({"u-666": {"preferred_username": "bob", "email": "bob@example.test"}})
    me = sso.get(sso.login("u-666"), "/api/v1/users/me/").json()
    assert me["username"] == "bob-2"
    assert not OidcIdentity.objects.filter(user=bob).exists()


def test_groups_claim_grants_the_tenant_of_a_group_membership_and_charlie_stays_invisible(sso, tree, team_a):
    browser = sso.login("u-1001")
    tenants = sso.get(browser, "/api/v1/tenants/").json()["results"]
    assert [t["full_slug"] for t in tenants] == ["org/a"]
    assert sso.get(browser, f"/api/v1/tenants/{tree['b'].pk}/").status_code == 404
    me = sso.get(browser, "/api/v1/users/me/").json()
    assert me["tenants"] == [{"id": tree["a"].pk, "path": "org/a", "role": "member"}]


@pytest.mark.parametrize("claims_after", [{**DANA, "groups": []}, {k: v for k, v in DANA.items() if k != "groups"}],
                         ids=["empty-groups", "no-groups-claim"])
def test_group_removed_at_the_idp_removes_access_at_the_next_login(sso, tree, team_a, claims_after):
    assert [t["full_slug"] for t in sso.get(sso.login("u-1001"), "/api/v1/tenants/").json()["results"]] == ["org/a"]
    sso.provider.set_accounts({"u-1001": claims_after})
    browser = sso.login("u-1001")
    assert sso.get(browser, "/api/v1/tenants/").json()["results"] == []
    assert sso.get(browser, "/api/v1/users/me/").json()["groups"] == []
    event = AuditEvent.objects.filter(action="user.oidc_login").latest("pk")
    assert event.before == {"groups": ["team-a"]} and event.after["groups"] == []


def test_a_single_string_groups_claim_is_one_group(sso, tree, team_a):
    sso.provider.set_accounts({"u-1002": {**ERIN, "groups": "team-a"}})
    browser = sso.login("u-1002")
    assert [t["full_slug"] for t in sso.get(browser, "/api/v1/tenants/").json()["results"]] == ["org/a"]


def test_user_without_groups_sees_no_tenant(sso, tree, team_a):
    browser = sso.login("u-1002")
    assert sso.get(browser, "/api/v1/users/me/").json()["username"] == "erin"
    assert sso.get(browser, "/api/v1/tenants/").json()["results"] == []


def test_bearer_access_token_from_the_provider_authenticates_the_api(sso, tree, team_a):
    token = sso.provider.access_token(login="u-1001", redirect_uri=f"{sso.url}/oidc/callback/")
    response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "dana" and body["tenants"] == [{"id": tree["a"].pk, "path": "org/a", "role": "member"}]
    # The same identity as a browser login: the bearer path did not make a second user.
    sso.login("u-1001")
    assert get_user_model().objects.filter(oidc_identities__subject="u-1001").count() == 1


def test_a_token_issued_to_another_application_of_the_realm_does_not_open_the_api(sso, tree, team_a, settings):
    """The provider's userinfo answers for any client's token; introspection tells whose it is."""
    token = sso.provider.access_token(login="u-1001", redirect_uri=f"{sso.url}/oidc/callback/",
                                      client=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert response.status_code == 401, response.text
    assert "issued to another client" in response.json()["detail"]
    assert not get_user_model().objects.filter(oidc_identities__subject="u-1001").exists()

    settings.OIDC_API_CLIENTS = [OTHER_CLIENT_ID]  # an integration the operator trusts
    response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert response.status_code == 200, response.text


def test_an_accepted_token_is_introspected_once_a_while_not_on_every_call(sso, tree, team_a, settings,
                                                                          monkeypatch):
    token = sso.provider.access_token(login="u-1001", redirect_uri=f"{sso.url}/oidc/callback/")
    calls, real_post = [], requests.post

    def counting(url, *args, **kwargs):  # counts the calls the provider gets, and makes them
        if url == settings.OIDC_OP_INTROSPECTION_ENDPOINT:
            calls.append(url)
        return real_post(url, *args, **kwargs)

    monkeypatch.setattr(requests, "post", counting)
    for _ in range(3):
        response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"},
                                timeout=15)
        assert response.status_code == 200, response.text
    assert len(calls) == 1


def test_without_introspection_bearer_tokens_are_refused_with_a_reason(sso, tree, team_a, settings):
    token = sso.provider.access_token(login="u-1001", redirect_uri=f"{sso.url}/oidc/callback/")
    settings.OIDC_OP_INTROSPECTION_ENDPOINT = ""
    response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert response.status_code == 401 and "OIDC_OP_INTROSPECTION_ENDPOINT" in response.json()["detail"]


def test_invalid_bearer_token_gets_401_problem(sso, db):
    response = requests.get(f"{sso.url}/api/v1/users/me/", headers={"Authorization": "Bearer not-a-real-token"},
                            timeout=15)
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize(("value", "expected"), [
    (["b", "a", "a", " c "], ["a", "b", "c"]),
    ("team-a", ["team-a"]),
    (None, []),
    ([1, "", "x" * 151, "ok"], ["ok"]),
    ({"not": "a list"}, []),
])
def test_groups_from_claims_tolerates_what_idps_send(value, expected):
    claims = {} if value is None else {"groups": value}
    assert groups_from_claims(claims, "groups") == expected


def test_a_user_deactivated_after_signing_in_loses_the_session_at_once(sso, tree):
    group = Group.objects.create(name="team-a")
    Membership.objects.create(tenant=tree["a"], group=group, role=Role.TENANT_ADMIN)
    browser = sso.login("u-1001")
    detail, create = f"/tenants/{tree['a'].pk}/", f"/tenants/{tree['a'].pk}/children/new/"
    assert sso.get(browser, detail).status_code == 200
    form = sso.get(browser, create)
    assert form.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)

    get_user_model().objects.filter(username="dana").update(is_active=False)
    page = browser.get(f"{sso.url}{detail}", allow_redirects=False, timeout=15)
    assert page.status_code == 302 and "/login/" in page.headers["Location"]
    posted = browser.post(f"{sso.url}{create}", data={"csrfmiddlewaretoken": csrf, "name": "Late", "slug": "late"},
                          headers={"Referer": f"{sso.url}{create}"}, allow_redirects=False, timeout=15)
    assert posted.status_code == 302 and "/login/" in posted.headers["Location"]
    assert not Tenant.objects.filter(slug="late").exists()
    assert sso.get(browser, "/api/v1/users/me/").status_code in (401, 403)
