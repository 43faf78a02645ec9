"""The tenant tree: an organisation's projects, mirrored with Keystone."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from .scoping import TenantOwnedQuerySet

DNS_LABEL = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "Use lowercase letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label).",
    code="invalid_slug",
)


class TenantQuerySet(MP_NodeQuerySet, TenantOwnedQuerySet):
    tenant_lookup = ""


class TenantManager(MP_NodeManager.from_queryset(TenantQuerySet)):
    def get_queryset(self):
        # Keep treebeard's tree order (by path) for managers; visible_to() comes from the queryset.
        return TenantQuerySet(self.model).order_by("path")


class Tenant(MP_Node):
    """A node of the organisation's project tree; owns namespaces, plans and memberships."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    # The tree lives in treebeard's materialised path (path, depth, numchild); the parent
    # FK is a denormalised, immutable copy so filters and integrity need no path arithmetic.
    steplen = 4
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               editable=False)
    name = models.CharField(max_length=100)
    slug = models.CharField(max_length=63, validators=[DNS_LABEL])
    full_slug = models.CharField(max_length=400, editable=False, db_index=True,
                                 help_text="Slugs from the root, joined by '/'.")
    description = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    keystone_project_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    keystone_domain_id = models.CharField(max_length=64, blank=True)
    keystone_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "slug"], name="tenant_slug_unique_among_siblings"),
            models.UniqueConstraint(fields=["slug"], condition=models.Q(parent__isnull=True),
                                    name="tenant_root_slug_unique"),
        ]
        indexes = [models.Index(fields=["parent", "path"])]

    def __str__(self) -> str:
        return self.full_slug or self.slug

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    def ancestor_paths(self) -> list[str]:
        """Paths of every ancestor, root first (no query: the path encodes them)."""
        return [self.path[: i * self.steplen] for i in range(1, self.depth)]
