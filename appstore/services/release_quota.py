"""The quota pre-flight of release operations, safe when requests race.

The tenant's usage (``NamespaceUsage``) only shows a release once its pods exist, so two
installs checked one after the other would each see the same headroom and both pass.
Two rules close that gap:

- every check runs inside the caller's transaction holding a row lock on the root of
  the tenant's tree, so the checks of one tree run one at a time (the headroom of any
  tenant depends on its ancestors, and the root is the one ancestor all of them share);
- operations admitted but not finished (a revision pending install, upgrade or rollback)
  count as used: their growth — the new revision's requests minus the release's current
  ones — is reserved until the worker finishes or fails them.

The lock is held until the caller commits the revision it checked, so the next check
sees that revision as in flight.
"""

from __future__ import annotations

from collections import defaultdict

from appstore.models import Release, ReleaseRevision, ReleaseStatus
from appstore.releases import render
from bluedock_portal.errors import Conflict
from tenants.models import Tenant
from tenants.services.plans import quota_report

QUOTA_RESOURCES = ("cpu", "memory", "gpu", "pods")
IN_FLIGHT = (ReleaseStatus.PENDING_INSTALL, ReleaseStatus.PENDING_UPGRADE, ReleaseStatus.PENDING_ROLLBACK)


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
    pending = in_flight_requests(root_path=root_path, exclude_release=release_id)
    report = quota_report(tenant=tenant, user=actor, pending=pending)["resources"]
    reserved = _subtree_total(pending, tenant.path)
    for resource in QUOTA_RESOURCES:
        extra = requested.get(resource, 0) - current.get(resource, 0)
        row = report[resource]
        if extra <= 0 or row["headroom"] is None or extra <= row["headroom"]:
            continue
        in_flight = (f", of which {reserved[resource]} by release operations in flight"
                     if reserved.get(resource) else "")
        raise QuotaExceeded(
            f"The release needs {extra} {row['unit']} more {resource}; '{tenant.full_slug}' has "
            f"{max(row['headroom'], 0)} left (used {row['subtree_used']} of {row['effective_limit']}{in_flight}).",
            tenant=tenant.pk, tenant_path=tenant.full_slug, resource=resource, requested=extra,
            used=row["subtree_used"], limit=row["effective_limit"], headroom=row["headroom"],
            in_flight=reserved.get(resource, 0), limiting_tenant=row["limiting_tenant"])


def release_requests(release: Release) -> dict[str, int]:
    """What the release's current revision requests (nothing once it is uninstalled)."""
    if release.status == ReleaseStatus.UNINSTALLED:
        return {}
    revision = release.revisions.filter(revision=release.current_revision).first()
    return render.requests(render.split(revision.manifest)) if revision and revision.manifest else {}


def in_flight_requests(*, root_path: str, exclude_release: int | None = None) -> dict[str, dict[str, int]]:
    """{tenant path: {resource: growth}} of the revisions admitted but not finished in the tree."""
    revisions = (ReleaseRevision.objects.filter(release__tenant__path__startswith=root_path, status__in=IN_FLIGHT,
                                                finished_at__isnull=True)
                 .exclude(manifest="").select_related("release__tenant"))
    if exclude_release is not None:
        revisions = revisions.exclude(release_id=exclude_release)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for revision in revisions:
        release = revision.release
        # An install starts from nothing (also when it reuses the name of an uninstalled release).
        current = {} if revision.kind == ReleaseRevision.Kind.INSTALL else release_requests(release)
        for resource, amount in render.requests(render.split(revision.manifest)).items():
            growth = amount - current.get(resource, 0)
            if growth > 0:
                totals[release.tenant.path][resource] += growth
    return totals


def _subtree_total(pending: dict[str, dict[str, int]], path: str) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for tenant_path, amounts in pending.items():
        if tenant_path.startswith(path):
            for resource, amount in amounts.items():
                total[resource] += amount
    return total
