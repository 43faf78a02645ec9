"""A synced version's chart archive: stored at sync (OCI) or fetched on first install (Helm HTTP).

A Helm HTTP repository announces thousands of versions and a store installs few of them,
so sync keeps only the index's metadata and the archive is fetched the first time a
release needs it (then stored, so later installs never fetch again). OCI sync already
downloads each new chart to read its values and schema, so it stores the archive there.

Whatever the source, an archive enters the store only after the same checks: its sha256
equals the digest the repository announced (when it announced one), it passes the
upload limits (size, traversal, links, bombs — appstore.charts.archive), and it is the
chart and version the catalog lists. A refusal is a ChartError with a specific code.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from appstore.charts import ChartError, archive
from appstore.models import AppVersion, ChartArchive, Repository
from backends import chart_repo
from backends.errors import BackendPermanentError
from backends.registry import RegistryClient

from .uploads import limits


def announced_digest(digest: str) -> str:
    """The hex sha256 a repository announced ('sha256:<hex>' in OCI, bare hex in index.yaml); '' if none."""
    return digest.strip().lower().removeprefix("sha256:")


def archive_verify(data: bytes, *, digest: str, name: str, version: str) -> archive.ChartInfo:
    """Every check an archive from a repository must pass before it is stored."""
    expected = announced_digest(digest)
    actual = hashlib.sha256(data).hexdigest()
    if expected and expected != actual:
        raise ChartError("chart_digest_mismatch", f"the archive's sha256 is {actual} but the repository announced "
                         f"{expected}; refusing it (corrupted in transit, or changed after publication)",
                         expected=expected, actual=actual)
    info = archive.inspect(data, limits=limits())
    if (info.name, info.version) != (name, version):
        raise ChartError("chart_archive_mismatch", f"the archive holds {info.name} {info.version}, not {name} "
                         f"{version}", name=info.name, version=info.version)
    return info


def version_archive(*, version: AppVersion) -> ChartArchive:
    """The version's archive, fetched, checked and stored on first use; raises ChartError or a BackendError."""
    if version.archive_id is not None:
        return version.archive
    repository = version.app.repository
    data = _download(repository, version)
    info = archive_verify(data, digest=version.digest, name=version.app.name, version=version.version)
    with transaction.atomic():
        stored, _ = ChartArchive.objects.get_or_create(digest=info.digest, defaults={"data": data, "size": len(data)})
        # The index told us little; the archive fills in what forms and pre-flight need (schema, values).
        AppVersion.objects.filter(pk=version.pk, archive__isnull=True).update(
            archive=stored, values_yaml=version.values_yaml or info.values_yaml,
            values_schema=version.values_schema if version.values_schema is not None else info.values_schema,
            readme=version.readme or info.readme, crds_present=version.crds_present or bool(info.crd_files))
    version.refresh_from_db()
    return version.archive


def _download(repository: Repository, version: AppVersion) -> bytes:
    max_bytes = settings.APPSTORE_MAX_CHART_BYTES
    try:
        if repository.kind == Repository.Kind.HELM_HTTP and version.source_url:
            return chart_repo.fetch(version.source_url, auth=_auth_for(repository, version.source_url),
                                    max_bytes=max_bytes)
        if repository.kind == Repository.Kind.OCI and version.source_url.startswith("oci://"):
            path = version.source_url.removeprefix("oci://").split("/", 1)[-1]
            client = RegistryClient(repository.url, username=repository.username, password=repository.password)
            return client.blob(path, version.digest, max_bytes=max_bytes)
    except BackendPermanentError as exc:
        if exc.reason == "too_large":
            raise ChartError("chart_too_large", f"the archive is larger than {max_bytes} bytes",
                             limit=max_bytes) from None
        raise
    raise ChartError("chart_archive_missing", f"{version.app.name} {version.version} has no stored archive and no "
                     "source to fetch it from")


def _auth_for(repository: Repository, url: str) -> chart_repo.RepoAuth:
    """Credentials go only to the repository's own host, as Helm does without --pass-credentials:
    an index may point its archives anywhere, and must not be able to collect the password."""
    same_host = urlsplit(url).netloc == urlsplit(repository.url).netloc
    if not same_host:
        return chart_repo.RepoAuth(ca_bundle=repository.ca_bundle)
    return chart_repo.RepoAuth(repository.username, repository.password, repository.ca_bundle)
