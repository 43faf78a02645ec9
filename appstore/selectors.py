"""Reads of the catalog, always answered for a given user."""

from __future__ import annotations

from django.db.models import Prefetch, Q

from appstore import permissions
from appstore.charts import semver
from appstore.models import App, AppVersion, Category, Repository
from appstore.models.scoping import catalog_q


def repository_list(*, user):
    return Repository.objects.visible_to(user).select_related("tenant")


def version_list(*, user):
    """Published versions of visible apps, plus any version of a tenant the user publishes for or reviews."""
    published = catalog_q(user, "app__tenant") & Q(review_state=AppVersion.Review.PUBLISHED)
    return AppVersion.objects.filter(published | permissions.privileged_tenant_q(user))


def app_list(*, user):
    """Visible apps that have something to show: a published version, or drafts the user works on."""
    listed = catalog_q(user, "tenant") & Q(latest_version__isnull=False, state=App.State.ACTIVE)
    return (App.objects.filter(listed | permissions.privileged_tenant_q(user, "tenant"))
            .select_related("latest_version", "repository", "tenant")
            .prefetch_related(Prefetch("categories", queryset=Category.objects.only("slug", "name"))))


def app_versions(*, app: App, user) -> list[AppVersion]:
    """The app's versions the user may see, newest first by SemVer (not by upload time)."""
    versions = list(version_list(user=user).filter(app=app).defer("values_yaml", "readme", "values_schema"))
    order = {v: i for i, v in enumerate(semver.sort_desc([v.version for v in versions]))}
    return sorted(versions, key=lambda v: order[v.version])


def review_queue(*, user):
    """Submitted versions the user may review (the review page and ?review_state=submitted)."""
    qs = AppVersion.objects.filter(review_state=AppVersion.Review.SUBMITTED)
    grants = permissions.grants_for(user)
    if not (grants.is_operator or grants.platform_reviewer):
        q = Q(pk__in=[])
        for path in sorted(grants.reviewer_paths):
            q |= Q(app__tenant__path__startswith=path)
        qs = qs.filter(q)
    return qs.select_related("app", "app__tenant", "submitted_by").order_by("created_at", "id")
