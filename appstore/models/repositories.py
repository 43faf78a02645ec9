"""Chart repositories: where apps come from, and how they stay in sync."""

from __future__ import annotations

from django.db import models

from bluedock_portal import secrets

from .scoping import CatalogQuerySet


class Repository(models.Model):
    """A source of charts: a Helm HTTP index, an OCI registry (explicit chart list) or the upload store."""

    class Kind(models.TextChoices):
        HELM_HTTP = "helm_http", "Helm HTTP repository (index.yaml)"
        OCI = "oci", "OCI registry"
        INTERNAL = "internal", "Upload store"

    class Scope(models.TextChoices):
        GLOBAL = "global"
        TENANT = "tenant"

    class SyncStatus(models.TextChoices):
        NEVER = "never"
        OK = "ok"
        ERROR = "error"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=500, blank=True, help_text="Base URL; for OCI the registry's http(s)://host:port.")
    oci_repositories = models.JSONField(default=list, blank=True,
                                        help_text="OCI only: chart repositories in the registry, e.g. charts/redis.")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="chart_repositories")
    username = models.CharField(max_length=200, blank=True)
    # Fernet ciphertext (bluedock_portal.secrets); never serialised, never audited.
    password_encrypted = models.TextField(blank=True, editable=False)
    ca_bundle = models.TextField(blank=True, help_text="PEM CA certificates to trust for this repository.")
    plain_http = models.BooleanField(default=False, help_text="OCI only: talk HTTP (loopback/test registries).")
    sync_interval = models.PositiveIntegerField(default=3600, help_text="Seconds between periodic syncs; 0 = manual.")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    sync_message = models.TextField(blank=True)
    verified = models.BooleanField(default=False, help_text="Operator-vetted source (shown as a badge).")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=models.Q(tenant__isnull=True),
                                    name="repository_global_name_unique"),
            models.UniqueConstraint(fields=["tenant", "name"], name="repository_tenant_name_unique"),
            models.CheckConstraint(condition=(models.Q(scope="global", tenant__isnull=True)
                                              | models.Q(scope="tenant", tenant__isnull=False)),
                                   name="repository_scope_matches_tenant"),
            # One upload store per tenant: uploads of tenant T always land in T's store.
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(kind="internal"),
                                    name="repository_one_upload_store_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def password(self) -> str:
        return secrets.decrypt(self.password_encrypted)

    def set_password(self, value: str) -> None:
        self.password_encrypted = secrets.encrypt(value)

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password_encrypted)
