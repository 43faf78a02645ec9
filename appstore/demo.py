"""The built-in demo repository: a few real charts in several versions, so the store is not empty."""

from __future__ import annotations

from pathlib import Path

from appstore.charts import archive, semver
from appstore.models import App, AppVersion, Category, Repository
from appstore.services import uploads

DEMO_ROOT = Path(__file__).resolve().parent / "demo_charts"
DEMO_REPOSITORY = "BlueDock demo charts"
CATEGORIES = [("web", "Web", 10), ("databases", "Databases and caches", 20), ("batch", "Batch and jobs", 30)]


def demo_archives() -> list[tuple[str, str, bytes]]:
    """(name, version, .tgz) for every chart directory, oldest version first."""
    found = []
    for chart_dir in sorted(p for p in DEMO_ROOT.iterdir() if p.is_dir()):
        versions = semver.sort_desc([p.name for p in chart_dir.iterdir() if p.is_dir()])[::-1]
        for version in versions:
            root = chart_dir / version
            files = {f"{chart_dir.name}/{p.relative_to(root).as_posix()}": p.read_bytes()
                     for p in sorted(root.rglob("*")) if p.is_file()}
            found.append((chart_dir.name, version, archive.gzip_tar(files)))
    return found


def load_demo_apps(*, actor) -> list[str]:
    """Create the demo repository, categories and versions that are missing; returns what changed."""
    changes = []
    for slug, name, order in CATEGORIES:
        if Category.objects.get_or_create(slug=slug, defaults={"name": name, "order": order})[1]:
            changes.append(f"category {slug}")
    repository, created = Repository.objects.get_or_create(
        name=DEMO_REPOSITORY, tenant=None,
        defaults={"kind": Repository.Kind.INTERNAL, "scope": Repository.Scope.GLOBAL, "sync_interval": 0,
                  "verified": True})
    if created:
        changes.append(f"repository {DEMO_REPOSITORY}")
    existing = set(AppVersion.objects.filter(app__repository=repository).values_list("app__name", "version"))
    for name, version, data in demo_archives():
        if (name, version) in existing:
            continue
        info, checked = uploads.chart_validate(data=data)
        uploads.chart_store(repository=repository, tenant=None, data=data, info=info, checked=checked, actor=actor,
                            publish=True)
        changes.append(f"chart {name} {version}")
    for app in App.objects.filter(repository=repository, categories__isnull=True):
        slugs = (app.latest_version.annotations.get("bluedock.io/categories", "") if app.latest_version else "")
        app.categories.set(Category.objects.filter(slug__in=[s.strip() for s in slugs.split(",") if s.strip()]))
    return changes
