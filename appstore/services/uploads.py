"""Uploading a chart: validate everything first, then store it in one transaction.

Checks, in order (the first failure answers, with its code): the archive's size and
shape (appstore.charts.archive: traversal, links, bombs, file count, UTF-8, Chart.yaml,
SemVer, type, values vs schema), then ``helm lint``, then ``helm template`` (what the
chart would create: CRDs and cluster-scoped kinds, images). Only then is anything written,
so a refused upload leaves no trace but its audit event.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from appstore import permissions
from appstore.charts import ChartError, archive, manifests
from appstore.models import App, AppVersion, ChartArchive, Repository, ReviewDecision
from backends import helm
from backends.errors import BackendPermanentError
from bluedock_portal.errors import InvalidInput, PermissionDenied
from tenants.models import AuditEvent, Tenant
from tenants.services.audit import audit_record
from tenants.services.tenants import tenant_ensure_active

from .catalog import apps_refresh_latest


def limits() -> archive.Limits:
    return archive.Limits(max_compressed=settings.APPSTORE_MAX_CHART_BYTES,
                          max_uncompressed=settings.APPSTORE_MAX_UNCOMPRESSED_BYTES,
                          max_files=settings.APPSTORE_MAX_FILES, max_ratio=settings.APPSTORE_MAX_RATIO)


def chart_validate(*, data: bytes) -> tuple[archive.ChartInfo, dict]:
    """Every check an upload must pass; returns the chart's facts and the validation report."""
    try:
        info = archive.inspect(data, limits=limits())
    except ChartError as exc:
        raise InvalidInput(exc.detail, code=exc.code, **exc.facts) from None
    result = helm.lint(data)
    if not result.ok:
        raise InvalidInput(f"helm lint failed: {'; '.join(result.messages)[:500] or 'see messages'}",
                           code="chart_lint_failed", messages=result.messages)
    try:
        rendered = helm.template(data)
        summary = manifests.summarize(rendered, crd_files={p: "" for p in info.crd_files})
    except BackendPermanentError as exc:
        raise InvalidInput(f"helm template failed: {exc.message[:500]}", code="chart_template_failed") from None
    except ChartError as exc:
        raise InvalidInput(exc.detail, code=exc.code) from None
    report = {"lint": result.messages, "warnings": info.warnings, "kinds": summary.kinds,
              "cluster_scoped_kinds": summary.cluster_scoped_kinds, "crds": info.crd_files,
              "needs_operator_approval": summary.has_crds or bool(summary.cluster_scoped_kinds),
              "size": info.size, "files": info.file_count, "uncompressed_size": info.uncompressed_size}
    return info, {"summary": asdict(summary), "report": report}


def upload_store_for(tenant: Tenant) -> Repository:
    store, _ = Repository.objects.get_or_create(
        tenant=tenant, kind=Repository.Kind.INTERNAL,
        defaults={"name": f"{tenant.full_slug} uploads", "scope": Repository.Scope.TENANT, "sync_interval": 0})
    return store


def chart_upload(*, tenant: Tenant, data: bytes, actor) -> AppVersion:
    """A tenant's upload: validated, stored as a draft in the tenant's upload store."""
    if not permissions.can_publish(actor, tenant):
        raise PermissionDenied(f"You need the publisher role on '{tenant.full_slug}' to upload charts.")
    tenant_ensure_active(tenant)  # 409 tenant_suspended for the tenant or any ancestor
    try:
        info, checked = chart_validate(data=data)
    except InvalidInput as exc:
        audit_record(actor=actor, action="appstore.chart_upload", target=tenant, tenant=tenant,
                     result=AuditEvent.Result.ERROR, reason=f"{exc.code}: {exc.detail}"[:500])
        raise
    return chart_store(repository=None, tenant=tenant, data=data, info=info, checked=checked, actor=actor)


def chart_store(*, repository: Repository | None, tenant: Tenant | None, data: bytes, info: archive.ChartInfo,
                checked: dict, actor, publish: bool = False) -> AppVersion:
    """Write a validated chart: app (created on first version), archive, version, audit."""
    summary = checked["summary"]
    try:
        with transaction.atomic():
            repository = repository or upload_store_for(tenant)
            app, _ = App.objects.get_or_create(
                repository=repository, name=info.name,
                defaults={"tenant": repository.tenant, "display_name": info.annotations.get(
                    "bluedock.io/display-name", info.name.replace("-", " ").title())[:100],
                    "summary": info.description, "icon": info.icon, "home": info.home, "keywords": info.keywords,
                    "sources": info.sources, "maintainers": info.maintainers})
            if AppVersion.objects.filter(app=app, version=info.version).exists():
                raise _exists(info)
            stored, _ = ChartArchive.objects.get_or_create(digest=info.digest,
                                                           defaults={"data": data, "size": len(data)})
            version = AppVersion.objects.create(
                app=app, version=info.version, prerelease=info.prerelease, app_version=info.app_version,
                description=info.description, digest=info.digest, archive=stored, chart_api_version=info.api_version,
                kube_version=info.kube_version, dependencies=info.dependencies, annotations=info.annotations,
                values_yaml=info.values_yaml, values_schema=info.values_schema, readme=info.readme,
                images=summary["images"], crds_present=summary["has_crds"],
                cluster_scoped_kinds=summary["cluster_scoped_kinds"], validation_report=checked["report"],
                deprecated=info.deprecated, created_by=_user(actor),
                review_state=AppVersion.Review.PUBLISHED if publish else AppVersion.Review.DRAFT,
                published_at=timezone.now() if publish else None)
            ReviewDecision.objects.create(app_version=version, actor=_user(actor), action="upload")
            if publish:
                apps_refresh_latest(app_ids=[app.pk])
            audit_record(actor=actor, action="appstore.chart_upload", target=version, tenant=repository.tenant,
                         after={"app": app.name, "version": version.version, "digest": info.digest,
                                "review_state": version.review_state, "repository": repository.pk})
    except IntegrityError:
        raise _exists(info) from None
    return version


def _exists(info) -> InvalidInput:
    return InvalidInput(f"{info.name} {info.version} already exists; chart versions are immutable, bump the "
                        "version in Chart.yaml", code="chart_version_exists", chart=info.name, version=info.version)


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None
