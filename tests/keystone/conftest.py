"""Keystone tests run against the real server of tests/servers/keystone.py, one fresh domain per test."""

from __future__ import annotations

import uuid

import openstack
import pytest

from backends import keystone as keystone_backend
from tests.servers.keystone import free_port, keystone_server  # noqa: F401  (the session fixture)


@pytest.fixture(scope="session")
def keystone_admin(keystone_server):  # noqa: F811
    """openstacksdk straight at the server, to arrange and check Keystone without our code."""
    return openstack.connect(auth_url=keystone_server.auth_url, username=keystone_server.username,
                             password=keystone_server.password, project_name=keystone_server.project_name,
                             user_domain_name=keystone_server.user_domain,
                             project_domain_name=keystone_server.project_domain, identity_api_version="3",
                             load_yaml_config=False, load_envvars=False)


@pytest.fixture
def keystone_domain(keystone_admin):
    """A domain of its own, so projects left by other tests (the server outlives them) stay out of sight."""
    return keystone_admin.identity.create_domain(name=f"test-{uuid.uuid4().hex[:12]}").id


@pytest.fixture
def keystone_on(settings, keystone_server, keystone_domain):  # noqa: F811
    settings.KEYSTONE_ENABLED = True
    settings.KEYSTONE_AUTH_URL = keystone_server.auth_url
    settings.KEYSTONE_USERNAME = keystone_server.username
    settings.KEYSTONE_PASSWORD = keystone_server.password
    settings.KEYSTONE_PROJECT_NAME = keystone_server.project_name
    settings.KEYSTONE_USER_DOMAIN = keystone_server.user_domain
    settings.KEYSTONE_PROJECT_DOMAIN = keystone_server.project_domain
    settings.KEYSTONE_DOMAIN_ID = keystone_domain
    settings.KEYSTONE_EXCLUDE_PROJECTS = ["admin", "service"]
    keystone_backend.client_reset()
    yield settings
    keystone_backend.client_reset()


@pytest.fixture
def keystone_down(keystone_on):
    """Keystone configured, but nothing listens on its port."""
    keystone_on.KEYSTONE_AUTH_URL = f"http://127.0.0.1:{free_port()}/v3"
    keystone_on.KEYSTONE_TIMEOUT = 3
    return keystone_on
