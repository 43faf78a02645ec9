"""The quota pre-flight of release operations, safe when requests race.

The tenant's usage (``NamespaceUsage``) shows a release only after the next inventory sync
has seen its pods, so two installs checked one after the other would each see the same
headroom and both pass. Two rules close that gap:

- every check runs inside the caller's transaction holding a row lock on the root of
  the tenant's tree, so the checks of one tree run one at a time (the headroom of any
  tenant depends on its ancestors, and the root is the one ancestor all of them share);
- release revisions the usage does not show yet count as used: those admitted but not
  finished (pending install, upgrade or rollback) and those deployed since the cluster's
  last inventory sync. Each counts its growth (its requests minus the release's before).

The lock is held until the caller commits the revision it checked, so the next check
sees that revision as in flight.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db.models import F, Max, Q

from appstore.models import Release, ReleaseRevision, ReleaseStatus
from appstore.releases import render
from bluedock_portal.errors import Conflict, InvalidInput
from tenants.models import ClusterNode, Tenant
from tenants.services.plans import quota_report

QUOTA_RESOURCES = ("cpu", "memory", "gpu", "pods")
IN_FLIGHT = (ReleaseStatus.PENDING_INSTALL, ReleaseStatus.PENDING_UPGRADE, ReleaseStatus.PENDING_ROLLBACK)
FINISHED = (ReleaseStatus.DEPLOYED, ReleaseStatus.SUPERSEDED)


class QuotaExceeded(Conflict):
    """409: the request is valid, but the tenant's tree has no room for it now."""

    code = "quota_exceeded"
    title = "Quota exceeded"


def quota_check(*, tenant: Tenant, actor, requested: dict[str, int], current: dict[str, int],
                release_id: int | None = None) -> None:
    """Refuse growth beyond the headroom along the tree. Call inside a transaction (it takes the tree's lock).

    Only growth is checked: an upgrade needs room for (new − current) requests. The release
    being checked (``release_id``) is left out of the in-flight reservations.
    """
    root_path = (tenant.ancestor_paths() or [tenant.path])[0]
    list(Tenant.objects.select_for_update().filter(path=root_path).values_list("pk", flat=True))
    pending = unaccounted_requests(root_path=root_path, exclude_release=release_id)
    report = quota_report(tenant=tenant, user=actor, pending=pending)["resources"]
    reserved = _subtree_total(pending, tenant.path)
    for resource in QUOTA_RESOURCES:
        extra = requested.get(resource, 0) - current.get(resource, 0)
        row = report[resource]
        if extra <= 0 or row["headroom"] is None or extra <= row["headroom"]:
            continue
        in_flight = (f", of which {reserved[resource]} by releases in flight or deployed since the last usage "
                     "count" if reserved.get(resource) else "")
        raise QuotaExceeded(
            f"The release needs {extra} {row['unit']} more {resource}; '{tenant.full_slug}' has "
            f"{max(row['headroom'], 0)} left (used {row['subtree_used']} of {row['effective_limit']}{in_flight}).",
            tenant=tenant.pk, tenant_path=tenant.full_slug, resource=resource, requested=extra,
            used=row["subtree_used"], limit=row["effective_limit"], headroom=row["headroom"],
            in_flight=reserved.get(resource, 0), limiting_tenant=row["limiting_tenant"])


def _node_labels(objects: list[dict], cluster_id: int | None) -> list[dict[str, str]] | None:
    """The labels of the cluster's nodes as the inventory last saw them, if a DaemonSet needs them."""
    if cluster_id is None or not any(o["kind"] == "DaemonSet" for o in objects):
        return None
    return list(ClusterNode.objects.filter(cluster_id=cluster_id).values_list("labels", flat=True))


def manifest_requests(objects: list[dict], *, cluster_id: int | None = None) -> dict[str, int]:
    """What ``objects`` request once in the namespace: requests default to limits, and to the namespace
    LimitRange's defaultRequest (``NAMESPACE_DEFAULT_REQUEST``) where a container sets neither; a
    DaemonSet counts a pod per matching node of the cluster. Malformed pod specs or quantities are
    InvalidInput with the render's code."""
    try:
        return render.requests(objects, default_request=settings.NAMESPACE_DEFAULT_REQUEST,
                               node_labels=_node_labels(objects, cluster_id))
    except render.RenderError as exc:
        raise InvalidInput(exc.detail, code=exc.code, **exc.facts) from None


def _stored_requests(manifest: str, cluster_id: int | None) -> dict[str, int]:
    """The requests of a stored revision's manifest; one stored before the render refused malformed objects
    counts nothing rather than failing every quota check of its tree."""
    try:
        return manifest_requests(render.split(manifest), cluster_id=cluster_id)
    except (render.RenderError, InvalidInput):
        return {}


def release_requests(release: Release) -> dict[str, int]:
    """What the release's current revision requests (nothing once it is uninstalled)."""
    if release.status == ReleaseStatus.UNINSTALLED:
        return {}
    revision = release.revisions.filter(revision=release.current_revision).first()
    return _stored_requests(revision.manifest, release.namespace.cluster_id) if revision and revision.manifest \
        else {}


def unaccounted_requests(*, root_path: str, exclude_release: int | None = None) -> dict[str, dict[str, int]]:
    """{tenant path: {resource: growth}} of release revisions the tenant's usage does not show yet.

    Those are the revisions admitted but not finished, and those finished after their
    cluster's last inventory sync (the usage is what that sync saw). Each counts its growth
    over the revision before it, so a chain of them adds up to what changed since the sync.
    """
    since_sync = Q(release__namespace__cluster__inventory_synced_at__isnull=True) | Q(
        finished_at__gt=F("release__namespace__cluster__inventory_synced_at"))
    revisions = (ReleaseRevision.objects.filter(release__tenant__path__startswith=root_path)
                 .filter(Q(status__in=IN_FLIGHT, finished_at__isnull=True) | (Q(status__in=FINISHED) & since_sync))
                 .exclude(manifest="").exclude(kind=ReleaseRevision.Kind.UNINSTALL)
                 .select_related("release__tenant", "release__namespace"))
    if exclude_release is not None:
        revisions = revisions.exclude(release_id=exclude_release, finished_at__isnull=True)
    revisions = list(revisions)
    # An uninstall deleted what the revisions before it applied: they count no more.
    uninstalled = dict(ReleaseRevision.objects.filter(release_id__in={r.release_id for r in revisions},
                                                      kind=ReleaseRevision.Kind.UNINSTALL,
                                                      status=ReleaseStatus.UNINSTALLED)
                       .values("release_id").annotate(last=Max("revision")).values_list("release_id", "last"))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for revision in revisions:
        if revision.revision < uninstalled.get(revision.release_id, 0):
            continue
        base = _base_requests(revision)
        for resource, amount in _stored_requests(revision.manifest, revision.release.namespace.cluster_id).items():
            growth = amount - base.get(resource, 0)
            if growth > 0:
                totals[revision.release.tenant.path][resource] += growth
    return totals


def _base_requests(revision: ReleaseRevision) -> dict[str, int]:
    """What the release requested before ``revision``: nothing for an install (also one reusing the name of
    an uninstalled release), else the current revision (in flight) or the one before it (finished)."""
    if revision.kind == ReleaseRevision.Kind.INSTALL:
        return {}
    if revision.finished_at is None:
        return release_requests(revision.release)
    before = (ReleaseRevision.objects.filter(release_id=revision.release_id, revision__lt=revision.revision)
              .order_by("-revision").first())
    if before is None or before.kind == ReleaseRevision.Kind.UNINSTALL or not before.manifest:
        return {}
    return _stored_requests(before.manifest, revision.release.namespace.cluster_id)


def _subtree_total(pending: dict[str, dict[str, int]], path: str) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for tenant_path, amounts in pending.items():
        if tenant_path.startswith(path):
            for resource, amount in amounts.items():
                total[resource] += amount
    return total
