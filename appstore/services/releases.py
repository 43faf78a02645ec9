"""Releases: install, upgrade, rollback and uninstall, each an Operation a worker runs.

A request (``release_install`` …) does everything that can refuse before the cluster is
touched: the member role on the namespace's tenant, values against the version's schema
(``schema_invalid`` with JSON pointers), ``helm template`` of the archive, the cluster-scope
policy, and the tenant's quota headroom along the tree (``quota_exceeded``). Then, in one
transaction, it stores the revision to apply (values and the post-processed manifest),
creates the Operation and takes the release's lock by compare-and-set: at most one operation
is in flight per release (``release_locked`` otherwise).

The worker (``release_apply_run``) applies the revision's objects by server-side apply and
prunes objects labelled with the release whose kind any revision held but the new manifest
lacks. Every step declares desired state, so running it again — a Celery retry after a
transient error, or ``release_recovery.release_retry`` after a failure — converges to the same objects.
"""

from __future__ import annotations

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from appstore.models import AppVersion, Release, ReleaseRevision, ReleaseStatus
from appstore.releases import render
from backends import helm
from backends.errors import BackendPermanentError, BackendTransientError
from bluedock_portal.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, PermissionDenied
from tenants.access import access_for
from tenants.models import Namespace, Operation, Role
from tenants.services.audit import audit_record
from tenants.services.clusters import cluster_backend
from tenants.services.operations import operation_create, operation_progress, operation_run
from tenants.services.plans import quota_report

OPERATION_TYPE = "appstore.release_apply"
Kind = ReleaseRevision.Kind
PENDING = {Kind.INSTALL: ReleaseStatus.PENDING_INSTALL, Kind.UPGRADE: ReleaseStatus.PENDING_UPGRADE,
           Kind.ROLLBACK: ReleaseStatus.PENDING_ROLLBACK, Kind.UNINSTALL: ReleaseStatus.UNINSTALLING}
QUOTA_RESOURCES = ("cpu", "memory", "gpu", "pods")


class QuotaExceeded(Conflict):
    """409: the request is valid, but the tenant's tree has no room for it now."""

    code = "quota_exceeded"
    title = "Quota exceeded"


class ReleaseLocked(Conflict):
    code = "release_locked"
    title = "Another operation is in progress"


# --- checks shared by every request -------------------------------------------------------
def _require_member(actor, tenant) -> None:
    access = access_for(actor)
    if not access.can_see(tenant):
        raise NotFound("Not found.")
    if not access.has_role(tenant, Role.MEMBER):
        raise PermissionDenied(f"You need the member role on '{tenant.full_slug}' to change its releases.")


def _require_installable(release_app_id: int | None, version: AppVersion) -> None:
    if not version.installable:
        raise InvalidInput(f"Version {version} is not published and active.", code="version_not_installable",
                           app_version=version.pk)
    if release_app_id is not None and version.app_id != release_app_id:
        raise InvalidInput(f"Version {version} belongs to another app.", code="version_wrong_app",
                           app_version=version.pk)


def _require_unlocked(release: Release) -> None:
    """Checked early for a quick answer (the compare-and-set in ``_start`` is what guarantees it)."""
    release.refresh_from_db(fields=["locked_by", "status", "current_revision", "current_version", "user_values"])
    if release.locked_by_id:
        raise ReleaseLocked(f"Operation {release.locked_by_id} is in progress on release '{release.name}'; wait for "
                            "it, or ask a tenant admin to recover it.", operation=release.locked_by_id)
    if release.status == ReleaseStatus.UNINSTALLED:
        raise Conflict(f"Release '{release.name}' is uninstalled.", code="release_uninstalled")


def _merged_values(version: AppVersion, user_values: dict) -> dict:
    defaults = yaml.safe_load(version.values_yaml or "") or {}
    return render.merge_values(defaults if isinstance(defaults, dict) else {}, user_values or {})


def _render(*, version: AppVersion, name: str, namespace: str, user_values: dict) -> list[dict]:
    """Values checked against the schema, then ``helm template`` of the version's archive (no labels yet)."""
    errors = render.schema_errors(version.values_schema, _merged_values(version, user_values))
    if errors:
        first = errors[0]
        raise InvalidInput(f"The values do not match the schema of {version}: {first['path']}: {first['message']}",
                           code="schema_invalid", errors=errors)
    if version.archive_id is None:
        raise InvalidInput(f"Version {version} has no stored archive.", code="version_not_installable")
    archive = bytes(version.archive.data)
    try:
        text = helm.template(archive, release=name, namespace=namespace,
                             values_yaml=yaml.safe_dump(user_values or {}))
        return render.split(text)
    except BackendTransientError as exc:
        raise BackendUnavailable(f"helm template did not finish: {exc.message}") from None
    except BackendPermanentError as exc:
        raise InvalidInput(f"helm template failed: {exc.message[:500]}", code="render_failed") from None
    except render.RenderError as exc:
        raise InvalidInput(exc.detail, code=exc.code, **exc.facts) from None


def _prepare(objects: list[dict], *, release_name: str, release_id: int, tenant_id: int,
             namespace: str) -> list[dict]:
    try:
        return render.prepare(objects, release_name=release_name, release_id=release_id, tenant_id=tenant_id,
                              namespace=namespace)
    except render.RenderError as exc:
        if exc.code == "policy_violation":
            raise PermissionDenied(exc.detail, code=exc.code, **exc.facts) from None
        raise InvalidInput(exc.detail, code=exc.code, **exc.facts) from None


def _check_quota(*, tenant, actor, requested: dict[str, int], current: dict[str, int]) -> None:
    """Only growth is checked: an upgrade needs room for (new − current) requests."""
    report = quota_report(tenant=tenant, user=actor)["resources"]
    for resource in QUOTA_RESOURCES:
        extra = requested.get(resource, 0) - current.get(resource, 0)
        row = report[resource]
        if extra <= 0 or row["headroom"] is None or extra <= row["headroom"]:
            continue
        raise QuotaExceeded(
            f"The release needs {extra} {row['unit']} more {resource}; '{tenant.full_slug}' has {row['headroom']} "
            f"left (used {row['subtree_used']} of {row['effective_limit']}).",
            tenant=tenant.pk, tenant_path=tenant.full_slug, resource=resource, requested=extra,
            used=row["subtree_used"], limit=row["effective_limit"], headroom=row["headroom"],
            limiting_tenant=row["limiting_tenant"])


def _current_requests(release: Release) -> dict[str, int]:
    revision = release.revisions.filter(revision=release.current_revision).first()
    return render.requests(render.split(revision.manifest)) if revision and revision.manifest else {}


def _kinds(objects: list[dict]) -> list[list[str]]:
    return sorted({(o["apiVersion"], o["kind"]) for o in objects}, key=lambda k: (k[1], k[0]))


def _start(*, release: Release, actor, kind: str, version: AppVersion, user_values: dict, objects: list[dict],
           description: str) -> Operation:
    """Store the next revision, create its operation and take the lock (inside the caller's transaction)."""
    number = (release.revisions.aggregate(n=Max("revision"))["n"] or 0) + 1
    operation, _ = operation_create(type=OPERATION_TYPE, actor=actor, tenant=release.tenant, target=release,
                                    params={"release": release.pk, "revision": number, "kind": kind})
    if not Release.objects.filter(pk=release.pk, locked_by__isnull=True).update(locked_by=operation,
                                                                                status=PENDING[kind]):
        holder = Release.objects.filter(pk=release.pk).values_list("locked_by", flat=True).first()
        raise ReleaseLocked(f"Operation {holder} is in progress on release '{release.name}'.", operation=holder)
    text = render.manifest_text(objects)
    ReleaseRevision.objects.create(
        release=release, revision=number, app_version=version, user_values=user_values or {}, manifest=text,
        manifest_digest=render.manifest_digest(text) if text else "", kinds=_kinds(objects), kind=kind,
        status=PENDING[kind], description=description, operation=operation,
        actor=actor if actor is not None and actor.is_authenticated else None)
    audit_record(actor=actor, action=f"appstore.release_{kind}", target=release, tenant=release.tenant,
                 after={"revision": number, "app_version": version.pk, "version": version.version,
                        "values": user_values or {}, "operation": operation.pk})
    return operation


# --- requests ---------------------------------------------------------------------------
def release_install(*, actor, namespace: Namespace, name: str, app_version: AppVersion,
                    values: dict | None = None) -> tuple[Release, Operation]:
    """Pre-flight, then queue the install (revision 1)."""
    tenant = namespace.tenant
    _require_member(actor, tenant)
    _require_installable(None, app_version)
    if Release.objects.filter(namespace=namespace, name=name).exists():
        raise Conflict(f"A release named '{name}' already exists in namespace '{namespace.name}'.",
                       code="release_name_taken", field="name")
    objects = _render(version=app_version, name=name, namespace=namespace.name, user_values=values or {})
    _prepare(objects, release_name=name, release_id=0, tenant_id=tenant.pk, namespace=namespace.name)
    _check_quota(tenant=tenant, actor=actor, requested=render.requests(objects), current={})
    try:
        with transaction.atomic():
            release = Release.objects.create(tenant=tenant, namespace=namespace, name=name, app=app_version.app,
                                             current_version=app_version, user_values=values or {},
                                             created_by=actor)
            prepared = _prepare(objects, release_name=name, release_id=release.pk, tenant_id=tenant.pk,
                                namespace=namespace.name)
            operation = _start(release=release, actor=actor, kind=Kind.INSTALL, version=app_version,
                               user_values=values or {}, objects=prepared, description="Install complete")
    except IntegrityError:
        raise Conflict(f"A release named '{name}' already exists in namespace '{namespace.name}'.",
                       code="release_name_taken", field="name") from None
    release.refresh_from_db()
    return release, operation


def release_upgrade(*, actor, release: Release, app_version: AppVersion | None = None,
                    values: dict | None = None) -> Operation:
    """Upgrade to ``app_version`` (default: the current one) with ``values`` (default: the current overrides)."""
    _require_member(actor, release.tenant)
    _require_unlocked(release)
    version = app_version or release.current_version
    if app_version is not None:
        _require_installable(release.app_id, app_version)
    user_values = release.user_values if values is None else values
    objects = _prepare(_render(version=version, name=release.name, namespace=release.namespace.name,
                               user_values=user_values),
                       release_name=release.name, release_id=release.pk, tenant_id=release.tenant_id,
                       namespace=release.namespace.name)
    _check_quota(tenant=release.tenant, actor=actor, requested=render.requests(objects),
                 current=_current_requests(release))
    with transaction.atomic():
        return _start(release=release, actor=actor, kind=Kind.UPGRADE, version=version, user_values=user_values,
                      objects=objects, description=f"Upgrade to {version.version} complete")


def _revision_to(release: Release, revision: int) -> ReleaseRevision:
    number = revision or release.current_revision - 1  # 0 means the previous one, as in helm rollback
    target = release.revisions.filter(revision=number).exclude(kind=Kind.UNINSTALL).select_related(
        "app_version").first()
    if target is None or not target.manifest:
        raise InvalidInput(f"Release '{release.name}' has no revision {number} to roll back to.",
                           code="revision_not_found", revision=number)
    return target


def release_rollback(*, actor, release: Release, revision: int = 0) -> Operation:
    """A new revision with the values and manifest of ``revision`` ("Rolled back to N"), as Helm does."""
    _require_member(actor, release.tenant)
    _require_unlocked(release)
    target = _revision_to(release, revision)
    objects = render.split(target.manifest)
    _check_quota(tenant=release.tenant, actor=actor, requested=render.requests(objects),
                 current=_current_requests(release))
    with transaction.atomic():
        return _start(release=release, actor=actor, kind=Kind.ROLLBACK, version=target.app_version,
                      user_values=target.user_values, objects=objects,
                      description=f"Rolled back to {target.revision}")


def release_uninstall(*, actor, release: Release) -> Operation:
    """Delete every object labelled with the release; revisions are kept for audit."""
    _require_member(actor, release.tenant)
    _require_unlocked(release)
    with transaction.atomic():
        return _start(release=release, actor=actor, kind=Kind.UNINSTALL, version=release.current_version,
                      user_values=release.user_values, objects=[], description="Uninstallation complete")


def release_diff(*, release: Release, app_version: AppVersion | None = None, values: dict | None = None,
                 revision: int | None = None) -> dict:
    """What an upgrade (or a rollback to ``revision``) would change: values and manifest. No side effects."""
    current = release.revisions.filter(revision=release.current_revision).select_related("app_version").first()
    old_values = current.user_values if current else release.user_values
    old_version = current.app_version if current else release.current_version
    if revision is not None:
        target = _revision_to(release, revision)
        version, new_values, manifest = target.app_version, target.user_values, target.manifest
    else:
        version = app_version or release.current_version
        if app_version is not None:
            _require_installable(release.app_id, app_version)
        new_values = release.user_values if values is None else values
        objects = _prepare(_render(version=version, name=release.name, namespace=release.namespace.name,
                                   user_values=new_values),
                           release_name=release.name, release_id=release.pk, tenant_id=release.tenant_id,
                           namespace=release.namespace.name)
        manifest = render.manifest_text(objects)
    return {
        "from_revision": current.revision if current else None, "from_version": old_version.version,
        "to_version": version.version, "to_revision": revision,
        "values": render.values_diff(old_values, new_values),
        "effective_values": render.values_diff(_merged_values(old_version, old_values),
                                               _merged_values(version, new_values)),
        "manifest": render.manifest_diff(current.manifest if current else "", manifest,
                                         old_label=f"revision {current.revision}" if current else "none",
                                         new_label="proposed"),
    }


# --- the worker -------------------------------------------------------------------------
def release_apply_run(*, operation_id: int, final_attempt: bool = False) -> dict | None:
    """Run one release operation; a failed operation leaves its revision and release failed and unlocked."""
    try:
        return operation_run(operation_id=operation_id, work=_apply, final_attempt=final_attempt,
                             done_message=lambda result: (result or {}).get("message", "done"))
    finally:
        _settle_failure(operation_id)


def _apply(operation: Operation) -> dict:
    release = Release.objects.select_related("namespace__cluster", "tenant").get(pk=operation.params["release"])
    revision = release.revisions.get(revision=operation.params["revision"])
    backend = cluster_backend(release.namespace.cluster)
    namespace = release.namespace.name
    desired = render.split(revision.manifest) if revision.kind != Kind.UNINSTALL else []
    steps = len(desired) + 1
    applied = []
    for index, obj in enumerate(desired):
        backend.apply(obj)
        applied.append(str(render.object_key(obj)))
        operation_progress(operation=operation, progress=int(90 * (index + 1) / steps),
                           message=f"applied {applied[-1]}")
    wanted = {(o["kind"], o["metadata"]["name"]) for o in desired}
    tracked = {tuple(k) for kinds in release.revisions.values_list("kinds", flat=True) for k in kinds}
    pruned = []
    for api_version, kind in sorted(tracked, key=lambda k: (k[1], k[0])):
        for item in backend.list(api_version, kind, namespace=namespace,
                                 label_selector=f"{render.RELEASE_LABEL}={release.pk}"):
            name = item["metadata"]["name"]
            if (kind, name) not in wanted:
                backend.delete(api_version, kind, name, namespace=namespace)
                pruned.append(f"{kind}/{name}")
    _finish(release=release, revision=revision, operation=operation)
    verb = "uninstalled" if revision.kind == Kind.UNINSTALL else f"revision {revision.revision} deployed"
    return {"release": release.pk, "revision": revision.revision, "applied": applied, "pruned": sorted(pruned),
            "message": f"{release.name}: {verb}"}


def _finish(*, release: Release, revision: ReleaseRevision, operation: Operation) -> None:
    now = timezone.now()
    with transaction.atomic():
        # An admin may have recovered the release meanwhile (unlock): then this late worker changes nothing.
        if revision.kind == Kind.UNINSTALL:
            if Release.objects.filter(pk=release.pk, locked_by=operation).update(status=ReleaseStatus.UNINSTALLED,
                                                                                 locked_by=None):
                ReleaseRevision.objects.filter(pk=revision.pk).update(status=ReleaseStatus.UNINSTALLED,
                                                                      finished_at=now)
            return
        if not Release.objects.filter(pk=release.pk, locked_by=operation).update(
            status=ReleaseStatus.DEPLOYED, locked_by=None, current_revision=revision.revision,
            current_version=revision.app_version_id, user_values=revision.user_values):
            return
        release.revisions.filter(status=ReleaseStatus.DEPLOYED).exclude(pk=revision.pk).update(
            status=ReleaseStatus.SUPERSEDED)
        ReleaseRevision.objects.filter(pk=revision.pk).update(status=ReleaseStatus.DEPLOYED, finished_at=now)


def _settle_failure(operation_id: int) -> None:
    operation = Operation.objects.filter(pk=operation_id).first()
    if operation is None or operation.state != Operation.State.FAILED:
        return
    with transaction.atomic():
        ReleaseRevision.objects.filter(operation=operation, finished_at__isnull=True).update(
            status=ReleaseStatus.FAILED, finished_at=timezone.now(),
            description=f"Failed: {operation.error_message[:250]}")
        Release.objects.filter(locked_by=operation).update(status=ReleaseStatus.FAILED, locked_by=None)
