"""Operations: long asynchronous work that clients poll (202 + Operation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OperationQuerySet(models.QuerySet):
    def visible_to(self, user):
        from tenants.access import access_for

        access = access_for(user)
        if access.is_operator:
            return self
        return self.filter(access.visible_q("tenant") | models.Q(actor_id=user.pk, tenant__isnull=True))


class Operation(models.Model):
    """A unit of asynchronous work with progress, a result or a structured error."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    TERMINAL = (State.SUCCEEDED, State.FAILED)

    type = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["actor", "type", "idempotency_key"],
                                    condition=~models.Q(idempotency_key=""), name="operation_idempotency"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="operation_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.type}#{self.pk} {self.state}"
