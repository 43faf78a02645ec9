"""Reads of a release's live state: its objects and pods, the cluster's events about them, its log.

This is the one place the release pages and the API read the cluster for a release (through
the Kubernetes backend, one list per kind, filtered by the release label). A cluster that
cannot be reached is not an error of the page: the report says so (``available`` False and a
``note``) and still lists what the revision declares, each object in state ``unknown``.
The caller has already resolved the release among those the user may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from appstore.models import Release, ReleaseRevision, ReleaseStatus
from appstore.releases import health, render
from backends.errors import BackendPermanentError, BackendTransientError
from bluedock_portal.errors import BackendUnavailable
from tenants.models import AuditEvent, Operation
from tenants.services.clusters import cluster_backend

MAX_EVENTS = 100
MAX_OPERATIONS = 20


@dataclass(frozen=True)
class ResourcesReport:
    available: bool
    note: str
    revision: int | None
    rows: list[health.ResourceRow] = field(default_factory=list)


@dataclass(frozen=True)
class EventRow:
    """One Kubernetes Event about an object of the release."""

    time: str
    type: str
    reason: str
    object: str
    message: str
    count: int
    source: str


@dataclass(frozen=True)
class LogLine:
    """One line of the release's own history: its operations, retries and recoveries."""

    time: object  # datetime
    operation: int | None
    level: str  # "info" | "error"
    text: str


@dataclass(frozen=True)
class EventsReport:
    available: bool
    note: str
    events: list[EventRow] = field(default_factory=list)
    log: list[LogLine] = field(default_factory=list)


def _shown_revision(release: Release) -> ReleaseRevision | None:
    """The deployed revision; before the first deploy, the latest one (what is being, or failed to be, applied)."""
    revisions = release.revisions.exclude(kind=ReleaseRevision.Kind.UNINSTALL)
    if release.current_revision:
        return revisions.filter(revision=release.current_revision).first()
    return revisions.order_by("-revision").first()


def _unreachable(release: Release, exc: Exception) -> str:
    return (
        f"Cluster '{release.namespace.cluster.name}' cannot be read right now ({exc}); "
        "the state shown is what the revision declares, not what runs."
    )


def _live(backend, release: Release, kinds: list[tuple[str, str]]) -> tuple[dict, list[dict], list[str]]:
    """Live objects by (kind, name) for the declared kinds, the release's pods, and kinds the cluster lacks."""
    namespace, selector = release.namespace.name, f"{render.RELEASE_LABEL}={release.pk}"
    live: dict[tuple[str, str], dict] = {}
    unserved = []
    for api_version, kind in kinds:
        try:
            items = backend.list(api_version, kind, namespace=namespace, label_selector=selector)
        except BackendPermanentError as exc:
            if exc.status != 404:  # 404: the cluster does not serve this kind (a CRD not installed)
                raise
            unserved.append(f"{kind} ({api_version})")
            continue
        live.update({(kind, item["metadata"]["name"]): item for item in items})
    pods = backend.list("v1", "Pod", namespace=namespace, label_selector=selector)
    return live, sorted(pods, key=lambda p: p["metadata"]["name"]), unserved


def release_resources(*, release: Release) -> ResourcesReport:
    """The objects of the release's revision, each with its live state, and the pods they run."""
    if release.status == ReleaseStatus.UNINSTALLED:
        return ResourcesReport(True, "The release is uninstalled; it has no objects.", None)
    revision = _shown_revision(release)
    declared = render.split(revision.manifest) if revision and revision.manifest else []
    if not declared:
        return ResourcesReport(True, "No objects yet.", revision.revision if revision else None)
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in declared}, key=lambda k: (k[1], k[0]))
    try:
        live, pods, unserved = _live(cluster_backend(release.namespace.cluster), release, kinds)
    except (BackendTransientError, BackendPermanentError, BackendUnavailable) as exc:
        rows = [health.ResourceRow(o["apiVersion"], o["kind"], o["metadata"]["name"], "unknown") for o in declared]
        return ResourcesReport(False, _unreachable(release, exc), revision.revision, rows)
    note = f"The cluster does not serve {', '.join(unserved)}." if unserved else ""
    return ResourcesReport(True, note, revision.revision, health.resource_rows(declared, live, pods))


def _event_row(event: dict) -> EventRow:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    time = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""
    return EventRow(
        time=str(time),
        type=event.get("type") or "Normal",
        reason=event.get("reason") or "",
        object=f"{involved.get('kind')}/{involved.get('name')}",
        message=event.get("message") or "",
        count=event.get("count") or 1,
        source=source.get("component") or event.get("reportingComponent") or "",
    )


def _cluster_events(release: Release) -> list[EventRow]:
    """Events of the namespace about the release's declared objects, its pods and their ReplicaSets."""
    backend = cluster_backend(release.namespace.cluster)
    namespace, selector = release.namespace.name, f"{render.RELEASE_LABEL}={release.pk}"
    revision = _shown_revision(release)
    ours = (
        {(o["kind"], o["metadata"]["name"]) for o in render.split(revision.manifest)}
        if revision and revision.manifest
        else set()
    )
    for api_version, kind in (("v1", "Pod"), ("apps/v1", "ReplicaSet")):
        ours |= {
            (kind, o["metadata"]["name"])
            for o in backend.list(api_version, kind, namespace=namespace, label_selector=selector)
        }
    events = [
        e
        for e in backend.list("v1", "Event", namespace=namespace)
        if ((e.get("involvedObject") or {}).get("kind"), (e.get("involvedObject") or {}).get("name")) in ours
    ]
    rows = [_event_row(e) for e in events]
    return sorted(rows, key=lambda r: (r.time, r.object, r.reason), reverse=True)[:MAX_EVENTS]


def _operation_lines(operation: Operation) -> list[LogLine]:
    params, pk = operation.params or {}, operation.pk
    what = f"{params.get('kind', operation.type)} of revision {params.get('revision', '?')}"
    actor = operation.actor.get_username() if operation.actor else "system"
    lines = [
        LogLine(
            operation.created_at, pk, "info", f"{'retry of ' if params.get('retry') else ''}{what} queued by {actor}"
        )
    ]
    if operation.started_at:
        lines.append(LogLine(operation.started_at, pk, "info", f"started (attempt {operation.attempts})"))
    result = operation.result or {}
    stamp = operation.finished_at or operation.heartbeat_at or operation.started_at or operation.created_at
    lines += [LogLine(stamp, pk, "info", f"applied {name}") for name in result.get("applied", [])]
    lines += [LogLine(stamp, pk, "info", f"pruned {name}") for name in result.get("pruned", [])]
    if operation.state == Operation.State.FAILED:
        lines.append(LogLine(stamp, pk, "error", f"failed ({operation.error_code}): {operation.error_message}"))
    elif operation.state == Operation.State.SUCCEEDED:
        lines.append(LogLine(stamp, pk, "info", f"succeeded: {operation.message}"))
    elif operation.message:
        lines.append(LogLine(stamp, pk, "info", f"{operation.progress}%: {operation.message}"))
    return lines


def release_log(*, release: Release) -> list[LogLine]:
    """The release's own log, oldest first: its latest operations' steps, and who recovered it and why."""
    operations = (
        Operation.objects.filter(target_type=release._meta.label_lower, target_id=str(release.pk))
        .select_related("actor")
        .order_by("-created_at", "-pk")[:MAX_OPERATIONS]
    )
    lines = [line for operation in operations for line in _operation_lines(operation)]
    audits = AuditEvent.objects.filter(
        target_type=release._meta.label_lower, target_id=str(release.pk), action="appstore.release_recover"
    ).order_by("-at")[:MAX_OPERATIONS]
    lines += [
        LogLine(a.at, (a.before or {}).get("locked_by"), "error", f"recovered by {a.actor_name}: {a.reason}")
        for a in audits
    ]
    return sorted(lines, key=lambda line: line.time)


def release_events(*, release: Release) -> EventsReport:
    """Kubernetes Events about the release's objects, newest first, and the release's own log."""
    log = release_log(release=release)
    try:
        events = _cluster_events(release)
    except (BackendTransientError, BackendPermanentError, BackendUnavailable) as exc:
        return EventsReport(False, _unreachable(release, exc), [], log)
    return EventsReport(True, "", events, log)
