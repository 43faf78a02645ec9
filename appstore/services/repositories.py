"""Registering repositories and asking for their sync (the sync itself is in sync.py)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.db import IntegrityError, transaction

from appstore import permissions
from appstore.charts.index import _is_chart_name
from appstore.models import Repository
from bluedock_portal.errors import InvalidInput, PermissionDenied
from tenants.models import Operation, Tenant
from tenants.services.audit import audit_record, snapshot
from tenants.services.operations import operation_create

SYNC_OPERATION = "appstore.repository_sync"
AUDITED_FIELDS = ["name", "kind", "url", "oci_repositories", "scope", "tenant", "username", "plain_http",
                  "sync_interval", "verified"]


def repository_create(*, actor, name: str, kind: str, url: str = "", tenant: Tenant | None = None,
                      oci_repositories: list[str] | None = None, username: str = "", password: str = "",
                      ca_bundle: str = "", plain_http: bool = False, sync_interval: int = 3600) -> Repository:
    if not permissions.can_manage_repository(actor, tenant):
        where = f"tenant-admin role on '{tenant.full_slug}'" if tenant else "operator role"
        raise PermissionDenied(f"You need the {where} to add repositories there.")
    if kind == Repository.Kind.INTERNAL:
        raise InvalidInput("Upload stores are created by the first upload, not by hand.", code="repository_kind",
                           field="kind")
    _check_url(url, kind)
    oci_repositories = [r.strip().strip("/") for r in oci_repositories or [] if r.strip()]
    if kind == Repository.Kind.OCI:
        if not oci_repositories:
            raise InvalidInput("OCI registries have no index: list the chart repositories to sync "
                               "(e.g. charts/redis).", code="oci_repositories_required", field="oci_repositories")
        bad = [r for r in oci_repositories if not _is_chart_name(r.rsplit("/", 1)[-1]) or ".." in r]
        if bad:
            raise InvalidInput(f"Not chart repository paths: {', '.join(bad)}", code="oci_repository_invalid",
                               field="oci_repositories")
    repository = Repository(name=name, kind=kind, url=url.rstrip("/"), tenant=tenant, oci_repositories=oci_repositories,
                            scope=Repository.Scope.TENANT if tenant else Repository.Scope.GLOBAL, username=username,
                            ca_bundle=ca_bundle, plain_http=plain_http, sync_interval=sync_interval)
    repository.set_password(password)
    try:
        with transaction.atomic():
            repository.save()
            audit_record(actor=actor, action="appstore.repository_create", target=repository, tenant=tenant,
                         after={**snapshot(repository, AUDITED_FIELDS), "credentials": bool(password)})
    except IntegrityError:
        raise InvalidInput(f"A repository named '{name}' already exists there.", code="repository_name_taken",
                           field="name") from None
    return repository


def _check_url(url: str, kind: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InvalidInput("The URL must be http(s)://host[:port][/path].", code="repository_url_invalid", field="url")
    if kind == Repository.Kind.OCI and parsed.path not in {"", "/"}:
        raise InvalidInput("For OCI give the registry's base URL only; chart paths go in oci_repositories.",
                           code="repository_url_invalid", field="url")


def repository_sync_request(*, repository: Repository, actor, idempotency_key: str = "") -> tuple[Operation, bool]:
    """Queue a sync as an Operation (202 for the API); a sync already queued or running is reused."""
    if not permissions.can_manage_repository(actor, repository.tenant):
        raise PermissionDenied(f"You cannot sync repository '{repository.name}'.")
    if repository.kind == Repository.Kind.INTERNAL:
        raise InvalidInput("Upload stores have nothing to sync.", code="repository_kind")
    pending = Operation.objects.filter(type=SYNC_OPERATION, target_id=str(repository.pk),
                                       state__in=[Operation.State.QUEUED, Operation.State.RUNNING]).first()
    if pending is not None:
        return pending, False
    return operation_create(type=SYNC_OPERATION, actor=actor, tenant=repository.tenant, target=repository,
                            params={"repository": repository.pk}, idempotency_key=idempotency_key)
