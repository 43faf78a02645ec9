"""Releases: install, upgrade, rollback and uninstall, each an Operation a worker runs.

A request (``release_install`` …) does everything that can refuse before the cluster is
touched: the member role on the namespace's tenant, an active tenant lineage
(``tenant_suspended``) and app (``app_suspended``), values against the version's schema
(``schema_invalid`` with JSON pointers), ``helm template`` of the archive, the policy of
``render.prepare`` (cluster scope, the portal's own objects, RBAC; RBAC objects at all only
for tenant admins), and the tenant's quota headroom along the tree (``quota_exceeded``). Then, in one
transaction, it stores the revision to apply (values and the post-processed manifest),
creates the Operation and takes the release's lock by compare-and-set: at most one operation
is in flight per release (``release_locked`` otherwise). The quota check and that transaction
hold the tenant tree's lock, and count releases in flight (``release_quota``), so racing
requests cannot both spend the same headroom. A synced version whose archive is not stored
yet (Helm HTTP) is deferred: the worker fetches the chart and runs this pre-flight first.
Install, upgrade, rollback and uninstall accept an idempotency key (``release_idempotency``).

The worker (``release_apply_run``) first asks the cluster about every object: one whose
resource is cluster-scoped (discovery, so custom resources count) or that exists without this
release's label fails the operation, and nothing is applied (``_check_cluster``). Then it
applies the revision's objects by server-side apply and prunes objects labelled with the
release whose kind any revision held but the new manifest lacks. Every step declares
desired state, so running it again — a Celery retry after a transient error, or
``release_recovery.release_retry`` after a failure — converges to the same objects.
"""

from __future__ import annotations

import contextlib
import json

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from appstore.charts import ChartError
from appstore.models import AppVersion, Release, ReleaseRevision, ReleaseStatus
from appstore.releases import policy, redact, render
from backends import helm
from backends.errors import BackendPermanentError, BackendTransientError
from bluedock_portal.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, PermissionDenied
from scheduling.selectors import tenant_required_checks
from tenants.access import access_for
from tenants.models import Namespace, Operation, Role, Tenant
from tenants.services.audit import audit_record
from tenants.services.clusters import cluster_backend
from tenants.services.operations import operation_create, operation_progress, operation_run
from tenants.services.tenants import tenant_ensure_active

from . import chart_archives
from .release_idempotency import Replayed, fingerprint, replayed
from .release_quota import manifest_requests, quota_check, release_requests

OPERATION_TYPE = "appstore.release_apply"
Kind = ReleaseRevision.Kind
PENDING = {Kind.INSTALL: ReleaseStatus.PENDING_INSTALL, Kind.UPGRADE: ReleaseStatus.PENDING_UPGRADE,
           Kind.ROLLBACK: ReleaseStatus.PENDING_ROLLBACK, Kind.UNINSTALL: ReleaseStatus.UNINSTALLING}


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


def require_rbac_role(actor, tenant, objects: list[dict], *, release: Release | None = None) -> None:
    """Roles and RoleBindings grant access in the namespace: only tenant admins may install or change
    them (``policy.check_rbac`` has already refused what would grant more than a tenant admin holds).
    Those ``release`` already runs exactly so do not count: a member may change a release's values
    without its RBAC changing."""
    deployed = set()
    if release is not None:
        current = release.revisions.filter(revision=release.current_revision).values_list("manifest", flat=True).first()
        with contextlib.suppress(render.RenderError):
            deployed = {_canonical(o) for o in render.split(current or "") if policy.is_rbac(o)}
    found = policy.rbac_objects([o for o in objects if _canonical(o) not in deployed])
    if found and not access_for(actor).has_role(tenant, Role.TENANT_ADMIN):
        raise PermissionDenied(f"The release creates {', '.join(found[:5])}; only a tenant admin of "
                               f"'{tenant.full_slug}' may install RBAC objects.", code="rbac_requires_tenant_admin",
                               objects=found)


def _canonical(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _require_installable(release_app_id: int | None, version: AppVersion) -> None:
    if version.app.state != version.app.State.ACTIVE:
        raise Conflict(f"App '{version.app.name}' is suspended: it cannot be installed or upgraded to (existing "
                       "releases keep running).", code="app_suspended", app=version.app_id)
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


def _require_plain_values(values: dict | None) -> None:
    """Values are stored as JSON: YAML's extras (non-string keys, dates, .nan) are refused, not a 500."""
    if values is not None and not isinstance(values, dict):
        raise InvalidInput("The values must be a mapping (the chart's values.yaml overrides).",
                           code="values_invalid", field="values")
    if problem := render.values_problem(values or {}):
        raise InvalidInput(f"The values must be plain JSON data: {problem}.", code="values_invalid",
                           field="values")


def _merged_values(version: AppVersion, user_values: dict) -> dict:
    defaults = yaml.safe_load(version.values_yaml or "") or {}
    return render.merge_values(defaults if isinstance(defaults, dict) else {}, user_values or {})


def _schema_check(version: AppVersion, user_values: dict) -> None:
    try:
        errors = render.schema_errors(version.values_schema, _merged_values(version, user_values))
    except render.RenderError as exc:
        raise InvalidInput(f"{version}: {exc.detail}", code=exc.code, **exc.facts) from None
    if errors:
        first = errors[0]
        raise InvalidInput(f"The values do not match the schema of {version}: {first['path']}: {first['message']}",
                           code="schema_invalid", errors=errors)


def _deferred(version: AppVersion) -> bool:
    """A synced version whose archive is fetched by the worker on first use (see chart_archives)."""
    return version.archive_id is None and bool(version.source_url)


def _render(*, version: AppVersion, name: str, namespace: str, user_values: dict) -> list[dict]:
    """Values checked against the schema, then ``helm template`` of the version's archive (no labels yet)."""
    _schema_check(version, user_values)
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
    # The tenant's required admission checks (its own and its ancestors') become scheduling gates.
    checks = tenant_required_checks(tenant=Tenant.objects.only("path", "depth").get(pk=tenant_id))
    try:
        return render.prepare(objects, release_name=release_name, release_id=release_id, tenant_id=tenant_id,
                              namespace=namespace, checks=checks)
    except render.RenderError as exc:
        if exc.code == "policy_violation":
            raise PermissionDenied(exc.detail, code=exc.code, **exc.facts) from None
        raise InvalidInput(exc.detail, code=exc.code, **exc.facts) from None


def _kinds(objects: list[dict]) -> list[list[str]]:
    return sorted({(o["apiVersion"], o["kind"]) for o in objects}, key=lambda k: (k[1], k[0]))


def _start(*, release: Release, actor, kind: str, version: AppVersion, user_values: dict, objects: list[dict],
           description: str, idempotency_key: str = "", request: str = "") -> Operation:
    """Store the next revision, create its operation and take the lock (inside the caller's transaction).

    ``objects`` is None for a deferred revision: the worker fetches the chart and runs the
    pre-flight before applying (``_preflight``).
    """
    number = (release.revisions.aggregate(n=Max("revision"))["n"] or 0) + 1
    params = {"release": release.pk, "revision": number, "kind": kind}
    if request:
        params["request"] = request
    operation, created = operation_create(type=OPERATION_TYPE, actor=actor, tenant=release.tenant, target=release,
                                          params=params, idempotency_key=idempotency_key)
    if not created:  # a twin request with the same key committed first
        raise Replayed(operation)
    if not Release.objects.filter(pk=release.pk, locked_by__isnull=True).update(locked_by=operation,
                                                                                status=PENDING[kind]):
        holder = Release.objects.filter(pk=release.pk).values_list("locked_by", flat=True).first()
        raise ReleaseLocked(f"Operation {holder} is in progress on release '{release.name}'.", operation=holder)
    text = render.manifest_text(objects or [])
    ReleaseRevision.objects.create(
        release=release, revision=number, app_version=version, user_values=user_values or {}, manifest=text,
        manifest_digest=render.manifest_digest(text) if text else "", kinds=_kinds(objects or []), kind=kind,
        status=PENDING[kind], description=description, operation=operation,
        actor=actor if actor is not None and actor.is_authenticated else None)
    audit_record(actor=actor, action=f"appstore.release_{kind}", target=release, tenant=release.tenant,
                 after={"revision": number, "app_version": version.pk, "version": version.version,
                        # Keys only: audit events are read by the tenant's viewers, who may not read values
                        # (the revision keeps them for its members: releases.redact).
                        "values": redact.values(user_values or {}), "operation": operation.pk,
                        **({"deferred": True} if objects is None else {})})
    return operation


def _replay(actor, key: str, request: str) -> Operation | None:
    return replayed(actor=actor, type=OPERATION_TYPE, key=key, request=request)


def _name_taken(name: str, namespace: Namespace) -> Conflict:
    return Conflict(f"A release named '{name}' already exists in namespace '{namespace.name}'.",
                    code="release_name_taken", field="name")


# --- requests ---------------------------------------------------------------------------
def release_install(*, actor, namespace: Namespace, name: str, app_version: AppVersion,
                    values: dict | None = None, idempotency_key: str = "") -> tuple[Release, Operation]:
    """Pre-flight, then queue the install (revision 1, or the next one when the name of an uninstalled release
    is reused, as ``helm install --replace`` does: its history stays, superseded).

    A synced version whose archive is not stored yet is deferred: the request checks what it
    can (values against a known schema) and the worker fetches the chart, then runs the rest.
    """
    tenant = namespace.tenant
    _require_member(actor, tenant)
    tenant_ensure_active(tenant)  # 409 tenant_suspended for the tenant or any ancestor
    if namespace.state == Namespace.State.DELETING:
        raise Conflict(f"Namespace '{namespace.name}' is being deleted: nothing new is installed in it.",
                       code="namespace_deleting")
    _require_plain_values(values)
    request = fingerprint("install", namespace=namespace.pk, name=name, app_version=app_version.pk,
                          values=values or {})
    if operation := _replay(actor, idempotency_key, request):
        return Release.objects.get(pk=operation.params["release"]), operation
    _require_installable(None, app_version)
    previous = Release.objects.filter(namespace=namespace, name=name).first()
    if previous is not None and (previous.status != ReleaseStatus.UNINSTALLED or previous.locked_by_id):
        raise _name_taken(name, namespace)
    objects = None
    if _deferred(app_version):
        _schema_check(app_version, values or {})
    else:
        objects = _render(version=app_version, name=name, namespace=namespace.name, user_values=values or {})
        _prepare(objects, release_name=name, release_id=0, tenant_id=tenant.pk, namespace=namespace.name)
        require_rbac_role(actor, tenant, objects)
    try:
        with transaction.atomic():
            if objects is not None:
                quota_check(tenant=tenant, actor=actor, current={},
                            requested=manifest_requests(objects, cluster_id=namespace.cluster_id))
            if previous is None:
                release = Release.objects.create(tenant=tenant, namespace=namespace, name=name, app=app_version.app,
                                                 current_version=app_version, user_values=values or {},
                                                 created_by=actor)
            elif Release.objects.filter(pk=previous.pk, status=ReleaseStatus.UNINSTALLED,
                                        locked_by__isnull=True).update(app=app_version.app):
                release = previous  # the lock in _start settles a race with another reuse
            else:
                raise _name_taken(name, namespace)
            prepared = None if objects is None else _prepare(
                objects, release_name=name, release_id=release.pk, tenant_id=tenant.pk, namespace=namespace.name)
            operation = _start(release=release, actor=actor, kind=Kind.INSTALL, version=app_version,
                               user_values=values or {}, objects=prepared, description="Install complete",
                               idempotency_key=idempotency_key, request=request)
    except Replayed as replay:
        return Release.objects.get(pk=replay.operation.params["release"]), replay.operation
    except (IntegrityError, ReleaseLocked):
        if operation := _replay(actor, idempotency_key, request):  # a twin request created the release first
            return Release.objects.get(pk=operation.params["release"]), operation
        raise _name_taken(name, namespace) from None
    release.refresh_from_db()
    return release, operation


def release_upgrade(*, actor, release: Release, app_version: AppVersion | None = None,
                    values: dict | None = None, idempotency_key: str = "") -> Operation:
    """Upgrade to ``app_version`` (default: the current one) with ``values`` (default: the current overrides)."""
    _require_member(actor, release.tenant)
    tenant_ensure_active(release.tenant)
    _require_plain_values(values)
    request = fingerprint("upgrade", release=release.pk, app_version=app_version.pk if app_version else None,
                          values=values)
    if operation := _replay(actor, idempotency_key, request):
        return operation
    _require_unlocked(release)
    version = app_version or release.current_version
    if app_version is not None:
        _require_installable(release.app_id, app_version)
    user_values = release.user_values if values is None else values
    objects = None
    if _deferred(version):
        _schema_check(version, user_values)
    else:
        objects = _prepare(_render(version=version, name=release.name, namespace=release.namespace.name,
                                   user_values=user_values),
                           release_name=release.name, release_id=release.pk, tenant_id=release.tenant_id,
                           namespace=release.namespace.name)
        require_rbac_role(actor, release.tenant, objects, release=release)
    return _queue(release=release, actor=actor, kind=Kind.UPGRADE, version=version, user_values=user_values,
                  objects=objects, description=f"Upgrade to {version.version} complete",
                  idempotency_key=idempotency_key, request=request)


def _queue(*, release: Release, actor, objects: list[dict] | None, **start) -> Operation:
    """Quota (growth over the current revision, under the tree's lock) and _start in one transaction."""
    try:
        with transaction.atomic():
            if objects is not None:
                quota_check(tenant=release.tenant, actor=actor,
                            requested=manifest_requests(objects, cluster_id=release.namespace.cluster_id),
                            current=release_requests(release), release_id=release.pk)
            return _start(release=release, actor=actor, objects=objects, **start)
    except Replayed as replay:
        return replay.operation


def _revision_to(release: Release, revision: int) -> ReleaseRevision:
    number = revision or release.current_revision - 1  # 0 means the previous one, as in helm rollback
    target = release.revisions.filter(revision=number).exclude(kind=Kind.UNINSTALL).select_related(
        "app_version").first()
    if target is None or not target.manifest:
        raise InvalidInput(f"Release '{release.name}' has no revision {number} to roll back to.",
                           code="revision_not_found", revision=number)
    if target.app_version.app_id != release.app_id:  # the name was reused for another app after an uninstall
        raise InvalidInput(f"Revision {number} of '{release.name}' installed another app ({target.app_version}); "
                           "it cannot be rolled back to.", code="revision_other_app", revision=number)
    return target


def release_rollback(*, actor, release: Release, revision: int = 0, idempotency_key: str = "") -> Operation:
    """A new revision with the values and manifest of ``revision`` ("Rolled back to N"), as Helm does."""
    _require_member(actor, release.tenant)
    tenant_ensure_active(release.tenant)
    request = fingerprint("rollback", release=release.pk, revision=revision)
    if operation := _replay(actor, idempotency_key, request):
        return operation
    _require_unlocked(release)
    target = _revision_to(release, revision)
    try:
        objects = render.split(target.manifest)
    except render.RenderError as exc:  # a revision stored before today's rules on objects
        raise InvalidInput(f"Revision {target.revision} cannot be applied again: {exc.detail}", code=exc.code,
                           revision=target.revision) from None
    require_rbac_role(actor, release.tenant, objects, release=release)
    return _queue(release=release, actor=actor, kind=Kind.ROLLBACK, version=target.app_version,
                  user_values=target.user_values, objects=objects,
                  description=f"Rolled back to {target.revision}", idempotency_key=idempotency_key, request=request)


def release_uninstall(*, actor, release: Release, idempotency_key: str = "") -> Operation:
    """Delete every object labelled with the release; revisions are kept for audit."""
    _require_member(actor, release.tenant)
    request = fingerprint("uninstall", release=release.pk)
    if operation := _replay(actor, idempotency_key, request):
        return operation
    _require_unlocked(release)
    try:
        with transaction.atomic():
            return _start(release=release, actor=actor, kind=Kind.UNINSTALL, version=release.current_version,
                          user_values=release.user_values, objects=[], description="Uninstallation complete",
                          idempotency_key=idempotency_key, request=request)
    except Replayed as replay:
        return replay.operation


def release_diff(*, release: Release, app_version: AppVersion | None = None, values: dict | None = None,
                 revision: int | None = None, redacted: bool = False) -> dict:
    """What an upgrade (or a rollback to ``revision``) would change: values and manifest. No side effects.

    ``redacted`` (for users below member): values and Secret data are hidden (``releases.redact``)."""
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
        _fetch_now(version)
        new_values = release.user_values if values is None else values
        objects = _prepare(_render(version=version, name=release.name, namespace=release.namespace.name,
                                   user_values=new_values),
                           release_name=release.name, release_id=release.pk, tenant_id=release.tenant_id,
                           namespace=release.namespace.name)
        manifest = render.manifest_text(objects)
    old_manifest = current.manifest if current else ""
    values_changes = render.values_diff(old_values, new_values)
    effective = render.values_diff(_merged_values(old_version, old_values), _merged_values(version, new_values))
    if redacted:
        old_manifest, manifest = redact.manifest(old_manifest), redact.manifest(manifest)
        values_changes, effective = redact.values_changes(values_changes), redact.values_changes(effective)
    return {
        "from_revision": current.revision if current else None, "from_version": old_version.version,
        "to_version": version.version, "to_revision": revision,
        "values": values_changes,
        "effective_values": effective,
        "manifest": render.manifest_diff(old_manifest, manifest,
                                         old_label=f"revision {current.revision}" if current else "none",
                                         new_label="proposed"),
    }


def _fetch_now(version: AppVersion) -> None:
    """A diff cannot wait for a worker: fetch a deferred version's chart in the request."""
    if not _deferred(version):
        return
    try:
        chart_archives.version_archive(version=version)
    except ChartError as exc:
        raise InvalidInput(f"Chart {version}: {exc.detail}", code=exc.code, **exc.facts) from None
    except BackendTransientError as exc:
        raise BackendUnavailable(f"The chart repository cannot be reached: {exc.message}") from None
    except BackendPermanentError as exc:
        raise InvalidInput(f"The chart repository refused {version}: {exc.message}",
                           code="chart_fetch_failed") from None


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
    if revision.kind != Kind.UNINSTALL and not revision.manifest:
        revision = _preflight(operation=operation, release=release, revision=revision)
    backend = cluster_backend(release.namespace.cluster)
    namespace = release.namespace.name
    try:
        desired = render.split(revision.manifest) if revision.kind != Kind.UNINSTALL else []
    except render.RenderError as exc:  # a revision stored before today's rules on objects
        raise InvalidInput(f"Revision {revision.revision} cannot be applied: {exc.detail}", code=exc.code) from None
    _check_cluster(backend, release=release, objects=desired)
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
    for tracked_version, kind in sorted(tracked, key=lambda k: (k[1], k[0])):
        api_version, items = _served_listing(backend, tracked_version, kind, namespace=namespace,
                                             label_selector=f"{render.RELEASE_LABEL}={release.pk}")
        for item in items:
            name = item["metadata"]["name"]
            if (kind, name) not in wanted:
                backend.delete(api_version, kind, name, namespace=namespace)
                pruned.append(f"{kind}/{name}")
    _finish(release=release, revision=revision, operation=operation)
    verb = "uninstalled" if revision.kind == Kind.UNINSTALL else f"revision {revision.revision} deployed"
    return {"release": release.pk, "revision": revision.revision, "applied": applied, "pruned": sorted(pruned),
            "message": f"{release.name}: {verb}"}


def _served_listing(backend, api_version: str, kind: str, **query) -> tuple[str, list[dict]]:
    """The release's objects of ``kind``, listed at ``api_version`` or, once the cluster no longer
    serves that version (batch/v1beta1 CronJob at 1.25), at a version of the group that does: the
    API server migrated the objects, and they must still be pruned. Nothing only where no version
    of the group serves the kind any more (a CRD removed, its objects with it). A group the cluster
    cannot answer for now (503) is an error, retried: never read as "nothing left"."""
    try:
        return api_version, backend.list(api_version, kind, **query)
    except BackendPermanentError as exc:
        if exc.status != 404:
            raise
    group = api_version.rpartition("/")[0]
    if not group:
        return api_version, []
    try:
        versions = backend.served_versions(group)
    except BackendPermanentError as exc:
        if exc.status != 404:
            raise
        return api_version, []  # the whole group is gone
    for version in sorted(versions - {api_version.rpartition("/")[2]}):
        try:
            return f"{group}/{version}", backend.list(f"{group}/{version}", kind, **query)
        except BackendPermanentError as exc:
            if exc.status != 404:
                raise
    return api_version, []


def _check_cluster(backend, *, release: Release, objects: list[dict]) -> None:
    """Before anything is applied: every object is namespaced as the cluster serves it (discovery, so custom
    resources count: a cluster-scoped one would escape the namespace), and none exists already without
    this release's label (it belongs to another release, the portal or someone's kubectl; Helm refuses
    such "invalid ownership metadata" too, rather than take the object over and delete it on uninstall).
    The policy of ``render.prepare`` runs again here, on every path: a revision stored before a rule
    existed (a rollback, a retry) is held to today's rules."""
    for obj in objects:
        try:
            policy.check_reserved(obj)
            policy.check_rbac(obj, namespace=release.namespace.name)
        except policy.PolicyError as exc:
            raise InvalidInput(f"{exc.detail}; nothing was applied.", code=exc.code, **exc.facts) from None
        if not backend.namespaced(obj["apiVersion"], obj["kind"]):
            raise InvalidInput(f"{obj['kind']} '{obj['metadata']['name']}' is cluster-scoped in this cluster; "
                               "releases may only create objects in their namespace; nothing was applied.",
                               code="cluster_scoped_object", kind=obj["kind"], name=obj["metadata"]["name"])
    owner = str(release.pk)
    for obj in objects:
        meta = obj["metadata"]
        live = backend.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if live is None:
            continue
        held = ((live.get("metadata") or {}).get("labels") or {}).get(render.RELEASE_LABEL)
        if held != owner:
            whose = f"release {held}" if held else "no release (the portal or another tool made it)"
            raise Conflict(f"{obj['kind']} '{meta['name']}' already exists in namespace '{meta.get('namespace')}' "
                           f"and belongs to {whose}; a release only changes objects it created. Nothing was "
                           "applied.", code="object_not_owned", kind=obj["kind"], name=meta["name"],
                           owner_release=held or None)


def _preflight(*, operation: Operation, release: Release, revision: ReleaseRevision) -> ReleaseRevision:
    """A deferred revision: fetch and store the chart (first use of a synced version), then the request's
    pre-flight — schema, render, policy, quota — before anything is applied.

    An unreachable repository is a BackendTransientError (the task retries); a refused archive
    or pre-flight fails the operation with its code, and nothing is applied.
    """
    version = revision.app_version
    operation_progress(operation=operation, progress=1, message=f"fetching chart {version}")
    try:
        chart_archives.version_archive(version=version)
    except ChartError as exc:
        raise InvalidInput(f"Chart {version} from {version.source_url}: {exc.detail}", code=exc.code,
                           **exc.facts) from None
    operation_progress(operation=operation, progress=3, message="pre-flight: values, render, policy, quota")
    try:
        objects = _prepare(_render(version=version, name=release.name, namespace=release.namespace.name,
                                   user_values=revision.user_values),
                           release_name=release.name, release_id=release.pk, tenant_id=release.tenant_id,
                           namespace=release.namespace.name)
    except BackendUnavailable as exc:  # helm timed out: worth another attempt, not a failure
        raise BackendTransientError(exc.detail, system="helm") from None
    actor = operation.actor or revision.actor
    require_rbac_role(actor, release.tenant, objects, release=None if revision.kind == Kind.INSTALL else release)
    current = {} if revision.kind == Kind.INSTALL else release_requests(release)
    text = render.manifest_text(objects)
    with transaction.atomic():
        quota_check(tenant=release.tenant, actor=actor,
                    requested=manifest_requests(objects, cluster_id=release.namespace.cluster_id),
                    current=current, release_id=release.pk)
        ReleaseRevision.objects.filter(pk=revision.pk, manifest="").update(
            manifest=text, manifest_digest=render.manifest_digest(text) if text else "", kinds=_kinds(objects))
    revision.refresh_from_db()
    return revision


def _finish(*, release: Release, revision: ReleaseRevision, operation: Operation) -> None:
    now = timezone.now()
    with transaction.atomic():
        # An admin may have recovered the release meanwhile (unlock): then this late worker changes nothing.
        if revision.kind == Kind.UNINSTALL:
            if Release.objects.filter(pk=release.pk, locked_by=operation).update(status=ReleaseStatus.UNINSTALLED,
                                                                                 locked_by=None):
                ReleaseRevision.objects.filter(pk=revision.pk).update(status=ReleaseStatus.UNINSTALLED,
                                                                      finished_at=now)
                # Nothing is deployed any more; a later install under the same name starts afresh.
                release.revisions.filter(status=ReleaseStatus.DEPLOYED).update(status=ReleaseStatus.SUPERSEDED)
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
