"""Keeping each app's denormalised fields (latest version, metadata) true to its versions."""

from __future__ import annotations

from collections import defaultdict

from appstore.charts import semver
from appstore.models import App, AppVersion

APP_META_FIELDS = ["summary", "icon", "home", "keywords", "sources", "maintainers", "deprecated"]


def pick_latest(rows: list[tuple[int, str, bool]]) -> int | None:
    """From (id, version, prerelease) of installable versions: the newest non-prerelease.

    An app that has only prereleases still needs a face in the store, so the newest
    prerelease stands in until a release exists.
    """
    if not rows:
        return None
    stable = [(semver.parse(v), pk) for pk, v, pre in rows if not pre]
    pool = stable or [(semver.parse(v), pk) for pk, v, _ in rows]
    return max(pool, key=lambda p: p[0])[1]


def apps_refresh_latest(*, app_ids: list[int]) -> int:
    """Recompute ``latest_version`` for these apps in a constant number of queries; returns rows changed."""
    if not app_ids:
        return 0
    rows = defaultdict(list)
    for app_id, pk, version, pre in (AppVersion.objects.filter(
            app_id__in=app_ids, review_state=AppVersion.Review.PUBLISHED, status=AppVersion.Status.ACTIVE)
            .values_list("app_id", "pk", "version", "prerelease")):
        rows[app_id].append((pk, version, pre))
    apps = list(App.objects.filter(pk__in=app_ids).only("pk", "latest_version_id"))
    changed = []
    for app in apps:
        latest = pick_latest(rows.get(app.pk, []))
        if app.latest_version_id != latest:
            app.latest_version_id = latest
            changed.append(app)
    App.objects.bulk_update(changed, ["latest_version"], batch_size=500)
    return len(changed)
