"""Apps (store listings), their versions, archives and review history."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .scoping import CatalogQuerySet


class Category(models.Model):
    """A store-front shelf ("Databases", "Web"); reviewers curate them."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class App(models.Model):
    """A chart as the store lists it; one per (repository, chart name)."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    repository = models.ForeignKey("appstore.Repository", on_delete=models.PROTECT, related_name="apps")
    # Denormalised from the repository: visibility filters need no join.
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=63, help_text="The chart name.")
    display_name = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    icon = models.URLField(max_length=500, blank=True)
    home = models.URLField(max_length=500, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    maintainers = models.JSONField(default=list, blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="apps")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    deprecated = models.BooleanField(default=False, help_text="The latest version says deprecated: true.")
    latest_version = models.ForeignKey("appstore.AppVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", help_text="Newest published, active, non-prerelease.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="app_name_unique_per_repository")]
        indexes = [models.Index(fields=["tenant", "name"])]

    def __str__(self) -> str:
        return self.display_name or self.name


class ChartArchive(models.Model):
    """A chart .tgz, content-addressed. Kept in the database (see appstore/__init__.py for why)."""

    digest = models.CharField(max_length=64, primary_key=True, help_text="sha256 of the archive, hex.")
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sha256:{self.digest[:12]}… ({self.size} bytes)"


class AppVersionQuerySet(CatalogQuerySet):
    tenant_lookup = "app__tenant"


class AppVersion(models.Model):
    """One chart version of an app. Immutable once submitted: any change is a new version."""

    class Review(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"
        PUBLISHED = "published"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64, help_text="SemVer 2 chart version.")
    prerelease = models.BooleanField(default=False)
    app_version = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    digest = models.CharField(max_length=80, blank=True, db_index=True)
    archive = models.ForeignKey(ChartArchive, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_url = models.CharField(max_length=800, blank=True, help_text="Where a synced chart is fetched from.")
    chart_api_version = models.CharField(max_length=8, default="v2")
    kube_version = models.CharField(max_length=100, blank=True)
    dependencies = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    values_yaml = models.TextField(blank=True)
    values_schema = models.JSONField(null=True, blank=True)
    readme = models.TextField(blank=True)
    images = models.JSONField(default=list, blank=True)
    crds_present = models.BooleanField(default=False)
    cluster_scoped_kinds = models.JSONField(default=list, blank=True)
    validation_report = models.JSONField(default=dict, blank=True)
    review_state = models.CharField(max_length=16, choices=Review.choices, default=Review.DRAFT, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    deprecated = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    review_comment = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppVersionQuerySet.as_manager()

    class Meta:
        ordering = ["app_id", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["app", "version"], name="app_version_unique_per_app")]

    def __str__(self) -> str:
        return f"{self.app.name}-{self.version}"

    @property
    def needs_operator_approval(self) -> bool:
        return self.crds_present or bool(self.cluster_scoped_kinds)

    @property
    def installable(self) -> bool:
        return self.review_state == self.Review.PUBLISHED and self.status == self.Status.ACTIVE


class ReviewDecision(models.Model):
    """One step of a version's review history (submit, approve, reject, publish, suspend, …)."""

    app_version = models.ForeignKey(AppVersion, on_delete=models.CASCADE, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    action = models.CharField(max_length=16)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.app_version_id}"
