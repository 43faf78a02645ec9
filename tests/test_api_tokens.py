"""API tokens made with ``manage.py api_token``, used the way a script would use them."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def me(authorization: str):
    return APIClient().get("/api/v1/users/me/", HTTP_AUTHORIZATION=authorization)


def assert_401(response):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "authentication_failed"


def test_created_token_is_the_only_stdout_and_authenticates_users_me(bob, tree):
    out, err = run("create", "--user", "bob", "--name", "ci")
    token = out.strip()
    assert out.count("\n") == 1 and token.startswith("bdp_") and " " not in token
    assert "not shown again" in err
    response = me(f"Token {token}")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "bob"
    assert response.json()["tenants"] == [{"id": tree["a"].pk, "path": "org/a", "role": "member"}]
    assert ApiToken.objects.get(user=bob).last_used_at is not None


def test_only_a_hash_of_the_secret_is_stored(bob):
    token = run("create", "--user", "bob")[0].strip()
    secret = token.split("_", 2)[2]
    row = ApiToken.objects.get(user=bob)
    stored = [str(v) for v in ApiToken.objects.filter(pk=row.pk).values().first().values()]
    assert not any(secret in value for value in stored)
    assert len(row.secret_hash) == 64 and row.secret_hash != secret
    audited = AuditEvent.objects.get(action="api_token.create")
    assert secret not in str(audited.after) and secret not in audited.target_repr


def test_revoked_token_gets_401(bob):
    token = run("create", "--user", "bob")[0].strip()
    prefix = token.split("_")[1]
    assert me(f"Token {token}").status_code == 200
    _, err = run("revoke", prefix)
    assert "Revoked" in err
    assert_401(me(f"Token {token}"))
    assert AuditEvent.objects.filter(action="api_token.revoke", actor_name="system").exists()


def test_expired_token_gets_401(bob):
    token = run("create", "--user", "bob", "--expires-days", "1")[0].strip()
    row = ApiToken.objects.get(user=bob)
    assert timedelta(hours=23) < row.expires_at - timezone.now() <= timedelta(days=1)
    assert me(f"Token {token}").status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_401(me(f"Token {token}"))


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token bdp_nope_nope", "Token not-a-token"])
def test_malformed_or_unknown_token_gets_401(bob, header):
    run("create", "--user", "bob")
    assert_401(me(header))


def test_secret_must_match_not_just_the_prefix(bob):
    token = run("create", "--user", "bob")[0].strip()
    assert_401(me(f"Token {token[:-2]}xx"))


def test_list_shows_prefix_and_state_but_never_the_secret(bob):
    first = run("create", "--user", "bob", "--name", "laptop")[0].strip()
    second = run("create", "--user", "bob", "--name", "ci")[0].strip()
    run("revoke", first)  # the whole token is accepted as well as its prefix
    out, _ = run("list", "--user", "bob")
    lines = out.splitlines()
    assert lines[0].startswith("PREFIX") and len(lines) == 3
    by_prefix = {line.split()[0]: line for line in lines[1:]}
    assert "revoked" in by_prefix[first.split("_")[1]] and "laptop" in by_prefix[first.split("_")[1]]
    assert "active" in by_prefix[second.split("_")[1]]
    assert first.split("_", 2)[2] not in out and second.split("_", 2)[2] not in out


def test_unknown_user_and_prefix_are_clear_errors(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("create", "--user", "ghost")
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("list", "--user", "ghost")
    with pytest.raises(CommandError, match="No API token with prefix 'abc'"):
        run("revoke", "abc")


def test_expiry_must_be_positive(bob):
    with pytest.raises(CommandError, match="--expires-days"):
        run("create", "--user", "bob", "--expires-days", "0")
