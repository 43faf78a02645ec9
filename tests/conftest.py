"""Personas and the tree they live in.

    org (root)            operator: platform admin (is_staff)
    ├── a                 alice: tenant-admin of a (inherited); bob: member of a (inherited)
    │   └── a/dev
    └── b                 charlie: tenant-admin of b
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tenants.models import Cluster, Membership, ResourcePlan, Role, Tenant


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is deliberately slow; the suite creates hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    def make(username: str, **extra):
        return get_user_model().objects.create_user(username=username, password=f"{username}-pass-123",
                                                    email=f"{username}@example.test", **extra)

    return make


@pytest.fixture
def operator(make_user):
    return make_user("operator", is_staff=True, is_superuser=True)


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def charlie(make_user):
    return make_user("charlie")


def _add(parent, slug, name=None):
    fields = dict(name=name or slug.upper(), slug=slug, full_slug=f"{parent.full_slug}/{slug}" if parent else slug)
    if parent is None:
        return Tenant.objects.add_root(instance=Tenant(parent=None, **fields))
    return Tenant.objects.add_child(parent, instance=Tenant(parent=parent, **fields))


@pytest.fixture
def tree(db, alice, bob, charlie):
    org = _add(None, "org", "Org")
    a = _add(org, "a", "Team A")
    a_dev = _add(Tenant.objects.get(pk=a.pk), "dev", "A Dev")
    b = _add(Tenant.objects.get(pk=org.pk), "b", "Team B")
    org, a, a_dev, b = (Tenant.objects.get(pk=t.pk) for t in (org, a, a_dev, b))
    Membership.objects.create(tenant=a, user=alice, role=Role.TENANT_ADMIN, inherited=True)
    Membership.objects.create(tenant=a, user=bob, role=Role.MEMBER, inherited=True)
    Membership.objects.create(tenant=b, user=charlie, role=Role.TENANT_ADMIN, inherited=True)
    for tenant, owned, limit in ((org, 64000, 64000), (a, 16000, 32000), (b, 16000, 32000)):
        ResourcePlan.objects.create(tenant=tenant, resource="cpu", owned=owned, limit=limit)
    return {"org": org, "a": a, "a_dev": a_dev, "b": b}


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="sandbox", api_url="http://127.0.0.1:6443")


@pytest.fixture
def api():
    """api(user) -> an APIClient signed in as user (a real session), or anonymous with None."""

    def client(user=None):
        c = APIClient()
        if user is not None:
            c.force_login(user)
        return c

    return client


@pytest.fixture
def sandbox_api():
    """A fresh sandbox Kubernetes API (4 nodes × 4 cpu / 16Gi) over real HTTP; see tests/servers/sandbox.py."""
    from tests.servers.sandbox import sandbox_server

    with sandbox_server() as handle:
        yield handle


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name the Kubernetes legs the contract suite ran against, with their results."""
    from tests.kubernetes_contract.conftest import LEG_SERVERS

    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "kubernetes_contract" not in nodeid or getattr(report, "when", "call") not in ("call", "setup"):
                continue
            for leg in ("sandbox", "real"):
                if f"[{leg}]" in nodeid:
                    counts.setdefault(leg, {}).setdefault(outcome, 0)
                    counts[leg][outcome] += 1
    if not counts:
        return
    terminalreporter.section("Kubernetes contract legs")
    for leg, outcomes in sorted(counts.items()):
        summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
        terminalreporter.write_line(f"{leg:8} {summary}  —  {LEG_SERVERS.get(leg, 'not started')}")
