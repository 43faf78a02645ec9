"""Repository sync: fetch what the repository announces and add what the catalog lacks.

Idempotent: versions are keyed by (app, version), so a second run creates nothing.
Additive: versions that vanished upstream are kept (installed releases may use them).
A failure (unreachable, broken index) is recorded on the repository and re-raised; the
versions synced before stay as they were. Cost is a constant number of queries however
large the index is (bulk reads and writes), so 5,000 versions sync in seconds.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from appstore.charts import ChartError, semver
from appstore.charts.index import ChartRecord, parse_index, record_from_meta
from appstore.models import App, AppVersion, ChartArchive, Repository
from backends import chart_repo
from backends.errors import BackendError, BackendPermanentError
from backends.registry import RegistryClient
from bluedock_portal.errors import InvalidInput
from tenants.models import AuditEvent
from tenants.services.audit import audit_record
from tenants.services.operations import operation_run

from . import chart_archives
from .catalog import APP_META_FIELDS, apps_refresh_latest


def repository_sync_run(*, operation_id: int, final_attempt: bool = False) -> dict | None:
    """The Operation runner (a Celery task calls this)."""

    def work(operation):
        repository = Repository.objects.select_related("tenant").get(pk=operation.params["repository"])
        return repository_sync(repository=repository, actor=operation.actor)

    return operation_run(operation_id=operation_id, work=work, final_attempt=final_attempt,
                         done_message=lambda r: f"{r['created']} new versions, {r['skipped']} skipped")


def repository_sync(*, repository: Repository, actor=None) -> dict:
    """Sync one repository now; returns counts. Raises (after recording the error) on failure."""
    try:
        records, skipped, details = _fetch(repository)
        result = catalog_apply(repository=repository, records=records, details=details)
    except (BackendError, ChartError) as exc:
        message = exc.message if isinstance(exc, BackendError) else exc.detail
        _record(repository, Repository.SyncStatus.ERROR, message, actor=actor, ok=False)
        if isinstance(exc, ChartError):
            raise InvalidInput(f"{repository.name}: {exc.detail}", code=exc.code) from None
        raise
    result["skipped"] = len(skipped)
    note = f"{result['created']} new versions ({result['total']} announced)"
    if skipped:
        note += f"; skipped {len(skipped)}: {'; '.join(skipped[:5])}"
    _record(repository, Repository.SyncStatus.OK, note, actor=actor, ok=True, counts=result)
    return result


def _record(repository: Repository, status: str, message: str, *, actor, ok: bool, counts=None) -> None:
    repository.sync_status, repository.sync_message = status, message[:2000]
    repository.last_synced_at = timezone.now()
    Repository.objects.filter(pk=repository.pk).update(sync_status=status, sync_message=repository.sync_message,
                                                       last_synced_at=repository.last_synced_at)
    audit_record(actor=actor, action="appstore.repository_sync", target=repository, tenant=repository.tenant,
                 after=counts, result=AuditEvent.Result.SUCCESS if ok else AuditEvent.Result.ERROR,
                 reason="" if ok else message[:500])


def _fetch(repository: Repository) -> tuple[list[ChartRecord], list[str], dict]:
    if repository.kind == Repository.Kind.HELM_HTTP:
        auth = chart_repo.RepoAuth(repository.username, repository.password, repository.ca_bundle)
        parsed = parse_index(chart_repo.fetch_index(repository.url, auth=auth))
        records = [_absolute(repository, r) for r in parsed.records]
        return records, parsed.skipped, {}
    if repository.kind == Repository.Kind.OCI:
        return _fetch_oci(repository)
    raise InvalidInput("Upload stores have nothing to sync.", code="repository_kind")


def _absolute(repository: Repository, record: ChartRecord) -> ChartRecord:
    if not record.urls:
        return record
    from dataclasses import replace

    return replace(record, urls=[chart_repo.chart_url(repository.url, u) for u in record.urls])


def _fetch_oci(repository: Repository) -> tuple[list[ChartRecord], list[str], dict]:
    """Tags are versions; only tags not in the catalog yet cost a manifest, config and chart fetch.

    The chart is fetched anyway (its values and schema live only in the archive), so it is
    checked (digest, limits, name and version) and stored: the version is installable at once.
    """
    from django.conf import settings

    client = RegistryClient(repository.url, username=repository.username, password=repository.password)
    known = set(AppVersion.objects.filter(app__repository=repository).values_list("app__name", "version"))
    host = repository.url.split("://", 1)[-1]
    records, skipped, details = [], [], {}
    for path in repository.oci_repositories:
        chart = path.rsplit("/", 1)[-1]
        for tag in client.tags(path):
            version = tag.replace("_", "+")  # OCI tags cannot hold "+"; helm push writes "_"
            if (chart, version) in known or not semver.is_valid(version):
                if not semver.is_valid(version):
                    skipped.append(f"{path}:{tag}: not a SemVer tag")
                continue
            manifest = client.chart_manifest(path, tag)
            record, why = record_from_meta(manifest.config, expected_name=chart, digest=manifest.layer_digest,
                                           urls=[f"oci://{host}/{path}"])
            if record is None:
                skipped.append(why)
                continue
            try:
                data = client.blob(path, manifest.layer_digest, max_bytes=settings.APPSTORE_MAX_CHART_BYTES)
                info = chart_archives.archive_verify(data, digest=manifest.layer_digest, name=record.name,
                                                     version=record.version)
            except ChartError as exc:
                skipped.append(f"{path}:{tag}: {exc.code}")
                continue
            except BackendPermanentError as exc:
                if exc.reason != "too_large":
                    raise
                skipped.append(f"{path}:{tag}: chart_too_large")
                continue
            details[(record.name, record.version)] = {
                "values_yaml": info.values_yaml, "values_schema": info.values_schema, "readme": info.readme,
                "crds_present": bool(info.crd_files), "archive": ChartArchive(digest=info.digest, data=data,
                                                                              size=len(data))}
            records.append(record)
    return records, skipped, details


@transaction.atomic
def catalog_apply(*, repository: Repository, records: list[ChartRecord], details: dict | None = None) -> dict:
    """Add the apps and versions of ``records`` that the catalog lacks (bulk; constant queries)."""
    details = details or {}
    apps = {a.name: a for a in App.objects.filter(repository=repository).only("pk", "name")}
    by_name: dict[str, list[ChartRecord]] = defaultdict(list)
    for record in records:
        by_name[record.name].append(record)
    # The store shows the newest release's metadata (a prerelease only when there is no release).
    newest = {name: max(recs, key=lambda r: (not r.prerelease, semver.parse(r.version)))
              for name, recs in by_name.items()}
    new_apps = [App(repository=repository, tenant=repository.tenant, name=name,
                    display_name=name.replace("-", " ").title()[:100], **_app_meta(newest[name]))
                for name in by_name if name not in apps]
    App.objects.bulk_create(new_apps, batch_size=1000)
    if new_apps:  # bulk_create sets pks on PostgreSQL; re-read keeps SQLite (make run) right too
        apps = {a.name: a for a in App.objects.filter(repository=repository).only("pk", "name")}
    known = set(AppVersion.objects.filter(app__repository=repository).values_list("app__name", "version"))
    _store_archives([d["archive"] for d in details.values() if "archive" in d])
    now = timezone.now()
    new_versions, seen = [], set()
    for record in records:
        key = (record.name, record.version)
        if key in known or key in seen:
            continue
        seen.add(key)
        new_versions.append(AppVersion(
            app_id=apps[record.name].pk, version=record.version, prerelease=record.prerelease,
            app_version=record.app_version, description=record.description, digest=record.digest,
            source_url=(record.urls or [""])[0][:800], chart_api_version=record.api_version[:8],
            kube_version=record.kube_version, dependencies=record.dependencies, annotations=record.annotations,
            deprecated=record.deprecated, review_state=AppVersion.Review.PUBLISHED, published_at=now,
            **details.get(key, {})))
    AppVersion.objects.bulk_create(new_versions, batch_size=1000)
    touched = {apps[name].pk: name for name, _ in seen}
    if touched:
        refreshed = [App(pk=pk, **_app_meta(newest[name])) for pk, name in touched.items()]
        App.objects.bulk_update(refreshed, APP_META_FIELDS, batch_size=500)
        apps_refresh_latest(app_ids=list(touched))
    return {"created": len(new_versions), "apps_created": len(new_apps), "total": len(records)}


def _store_archives(archives: list[ChartArchive]) -> None:
    """Content-addressed: an archive another version (or an upload) already stored is kept as it is."""
    ChartArchive.objects.bulk_create(archives, batch_size=100, ignore_conflicts=True)


def _app_meta(record: ChartRecord) -> dict:
    return {"summary": record.description, "icon": record.icon, "home": record.home, "keywords": record.keywords,
            "sources": record.sources, "maintainers": record.maintainers, "deprecated": record.deprecated}


def repositories_sync_due(*, now=None) -> list[int]:
    """Periodic: queue a sync Operation for every repository whose interval has passed."""
    from tenants.models import Operation
    from tenants.services.operations import operation_create

    from .repositories import SYNC_OPERATION

    now = now or timezone.now()
    queued = []
    candidates = Repository.objects.exclude(kind=Repository.Kind.INTERNAL).filter(sync_interval__gt=0)
    for repository in candidates:
        if repository.last_synced_at and (now - repository.last_synced_at).total_seconds() < repository.sync_interval:
            continue
        if Operation.objects.filter(type=SYNC_OPERATION, target_id=str(repository.pk),
                                    state__in=[Operation.State.QUEUED, Operation.State.RUNNING]).exists():
            continue
        operation_create(type=SYNC_OPERATION, tenant=repository.tenant, target=repository,
                         params={"repository": repository.pk})
        queued.append(repository.pk)
    return queued
