"""Keystone (OpenStack Identity v3) projects: the only module that imports openstacksdk.

Naming: Keystone project names are unique per *domain* (not per parent) and at most
64 characters, while tenant slugs are only unique among siblings. So a tenant's
project is named after its whole slug path joined with "." (``org/a/dev`` →
``org.a.dev``): unique in the domain because the path is unique, and unambiguous
because DNS-1123 slugs contain no ".". Paths longer than 64 characters keep a
readable prefix plus a hash of the full path (see :func:`project_name_for`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import openstack
from django.conf import settings
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from .errors import BackendPermanentError, BackendTransientError

SYSTEM = "keystone"
NAME_MAX = 64


@dataclass(frozen=True)
class KeystoneProject:
    id: str
    name: str
    description: str
    domain_id: str
    parent_id: str | None  # a top-level project's parent is its domain
    enabled: bool


def project_name_for(full_slug: str) -> str:
    """The Keystone project name for a tenant's slug path (``org/a/dev`` → ``org.a.dev``)."""
    name = full_slug.replace("/", ".")
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: NAME_MAX - len(digest) - 1]}~{digest}"


class KeystoneClient:
    """Project verbs against one Keystone, with SDK errors mapped to backend errors."""

    def __init__(self, connection) -> None:
        self._conn = connection

    def project_create(self, *, name: str, description: str = "", domain_id: str,
                       parent_id: str | None = None) -> KeystoneProject:
        """Create a project under ``parent_id`` (or at the top of ``domain_id``)."""
        conflict = f"Keystone already has a project named '{name}' in domain '{domain_id}'"
        with _translated(f"create project '{name}'", conflict=conflict):
            attrs = {"name": name, "description": description, "domain_id": domain_id}
            if parent_id:
                attrs["parent_id"] = parent_id
            return _project(self._conn.identity.create_project(**attrs))

    def project_update(self, project_id: str, *, name: str | None = None, description: str | None = None,
                       enabled: bool | None = None) -> KeystoneProject:
        """Set the given fields; the others stay as they are."""
        attrs = {k: v for k, v in (("name", name), ("description", description), ("is_enabled", enabled))
                 if v is not None}
        conflict = f"Keystone already has a project named '{name}'" if name else None
        with _translated(f"update project {project_id}", conflict=conflict):
            return _project(self._conn.identity.update_project(project_id, **attrs))

    def project_delete(self, project_id: str) -> None:
        """Make sure the project is gone; an already missing project is success, so retries are harmless."""
        with _translated(f"delete project {project_id}"):
            self._conn.identity.delete_project(project_id, ignore_missing=True)

    def project_list(self, *, domain_id: str) -> list[KeystoneProject]:
        """Every project of the domain (all pages), without domains-acting-as-projects."""
        with _translated(f"list the projects of domain '{domain_id}'"):
            return [_project(p) for p in self._conn.identity.projects(domain_id=domain_id) if not p.is_domain]


def _project(p) -> KeystoneProject:
    return KeystoneProject(id=p.id, name=p.name, description=p.description or "", domain_id=p.domain_id,
                           parent_id=p.parent_id, enabled=bool(p.is_enabled))


@contextlib.contextmanager
def _translated(action: str, *, conflict: str | None = None) -> Iterator[None]:
    try:
        yield
    except ksa_exceptions.HttpError as exc:  # raised while authenticating, before the SDK sees a response
        raise _by_status(action, exc.http_status, exc.message or str(exc), conflict) from exc
    except sdk_exceptions.HttpException as exc:
        raise _by_status(action, exc.status_code, exc.details or exc.message, conflict) from exc
    except (ksa_exceptions.ConnectionError, ksa_exceptions.DiscoveryFailure, sdk_exceptions.ResourceTimeout) as exc:
        raise BackendTransientError(f"Keystone is unreachable ({action}): {exc}", system=SYSTEM) from exc
    except (ksa_exceptions.ClientException, sdk_exceptions.SDKException) as exc:
        # Anything else is configuration (no endpoint, bad auth plugin): retrying will not fix it.
        raise BackendPermanentError(f"Keystone could not {action}: {exc}", system=SYSTEM) from exc


def _by_status(action: str, status: int | None, detail: str, conflict: str | None):
    if status is None or status >= 500 or status in (408, 429):
        return BackendTransientError(f"Keystone failed to {action} (HTTP {status}): {detail}", system=SYSTEM,
                                     status=status)
    if status == 409 and conflict:
        return BackendPermanentError(f"{conflict} (Keystone: {detail})", system=SYSTEM, status=status)
    return BackendPermanentError(f"Keystone refused to {action} (HTTP {status}): {detail}", system=SYSTEM,
                                 status=status)


def client() -> KeystoneClient:
    """The client for the current settings; one per configuration, reused across calls."""
    return _client_for(settings.KEYSTONE_AUTH_URL, settings.KEYSTONE_USERNAME, settings.KEYSTONE_PASSWORD,
                       settings.KEYSTONE_PROJECT_NAME, settings.KEYSTONE_USER_DOMAIN,
                       settings.KEYSTONE_PROJECT_DOMAIN, settings.KEYSTONE_TIMEOUT)


@functools.lru_cache(maxsize=4)
def _client_for(auth_url, username, password, project_name, user_domain, project_domain, timeout) -> KeystoneClient:
    # Keyed by the configuration, so changed settings (tests, a rotated password) get a fresh
    # connection; clouds.yaml and OS_* variables are ignored: Django settings are the only source.
    connection = openstack.connect(
        auth_url=auth_url, username=username, password=password, project_name=project_name,
        user_domain_name=user_domain, project_domain_name=project_domain, identity_api_version="3",
        api_timeout=timeout, load_yaml_config=False, load_envvars=False)
    return KeystoneClient(connection)


def client_reset() -> None:
    """Forget cached connections (after a credential change, and between tests)."""
    _client_for.cache_clear()
