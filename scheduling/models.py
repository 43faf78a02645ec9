"""What the scheduling cycle remembers between passes, and what it decided (append-only)."""

from __future__ import annotations

from django.db import models

from tenants.models.scoping import TenantOwnedQuerySet

# A request id: <namespace>/<pod or gang>, a namespace (63) and an object name (253, gangs.NAME_MAX).
KEY_MAX = 63 + 1 + 253


class EngineSnapshot(models.Model):
    """The engine's state and config version for one cluster, rewritten by every pass."""

    cluster = models.OneToOneField("tenants.Cluster", on_delete=models.CASCADE, related_name="engine_snapshot")
    config_version = models.PositiveIntegerField(default=0)
    config = models.JSONField(null=True, blank=True, help_text="The config version in force (engine form).")
    config_digest = models.CharField(max_length=64, blank=True, help_text="The digest of the config in force.")
    rejected_digest = models.CharField(max_length=64, blank=True,
                                       help_text="The digest of the plans last refused as invalid (V6): a change "
                                                 "of the plans is refused once, not at every pass.")
    state = models.JSONField(default=dict)
    shrinks = models.JSONField(default=dict, blank=True,
                               help_text="Gangs the engine shrank that the cycle keeps at their new size, and the "
                                         "admissions waiting for their pods to go (scheduling/shrinks.py).")
    pass_seq = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.cluster_id}: config v{self.config_version}, pass {self.pass_seq}"


class SchedulingRequest(models.Model):
    """A pod (or a gang of pods) asking for admission, with the engine's latest word on it."""

    cluster = models.ForeignKey("tenants.Cluster", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=KEY_MAX, help_text="The engine's request id: <namespace>/<pod or gang>.")
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=253)
    demand = models.JSONField(default=dict)
    state = models.CharField(max_length=32, db_index=True)
    reason = models.CharField(max_length=64)
    message = models.TextField(blank=True)
    facts = models.JSONField(default=dict, blank=True)
    share = models.CharField(max_length=16, blank=True, help_text="owned or borrowed, once admitted")
    lender_scope = models.CharField(max_length=100, blank=True)
    notes = models.JSONField(default=list, blank=True,
                             help_text="Annotations of its pods that the cycle ignored, each with the reason.")
    # A pod deleted and made again under the same name (a StatefulSet's rolling update) is another
    # request, though the cycle may never see the name go: the uid tells them apart (cycle.py).
    pod_uid = models.CharField(max_length=64, blank=True,
                               help_text="The uid of its pod, for a request of one pod (not a gang).")
    first_pass = models.PositiveBigIntegerField(
        default=0, help_text="The pass that first saw it: its why starts there.")
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "key"], name="scheduling_request_unique")]

    def __str__(self) -> str:
        return f"{self.key}: {self.state} {self.reason}"


class AppendOnlyQuerySet(TenantOwnedQuerySet):
    """History tables: the application inserts rows and never changes or removes them.

    The database's own cascades still apply (a cluster's deletion removes its history, a deleted
    tenant's decisions lose their tenant): Django runs them through the model's base manager, a
    plain one, not through this queryset."""

    def update(self, **kwargs):
        raise RuntimeError(f"{self.model.__name__} rows are append-only: they are never updated")

    def delete(self):
        raise RuntimeError(f"{self.model.__name__} rows are append-only: they are never deleted")


class AppendOnlyModel(models.Model):
    """A row is written once: saving it again, or deleting it, is refused (see AppendOnlyQuerySet)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError(f"{type(self).__name__} rows are append-only: they are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} rows are append-only: they are never deleted")


class SchedulingDecision(AppendOnlyModel):
    """One decision of one pass, with its reason, facts and message (never updated)."""

    cluster = models.ForeignKey("tenants.Cluster", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pass_seq = models.PositiveBigIntegerField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    config_version = models.PositiveIntegerField()
    state_hash = models.CharField(max_length=80, blank=True)
    action = models.CharField(max_length=16)
    reason = models.CharField(max_length=64)
    request = models.CharField(max_length=KEY_MAX, blank=True, db_index=True)
    victim = models.CharField(max_length=KEY_MAX, blank=True)
    preemptor = models.CharField(max_length=KEY_MAX, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-pass_seq", "-id"]
        # A request's why also lists the decisions it was the victim or the preemptor of. Few
        # decisions have either (EVICT, SHRINK), so partial indexes cost a pass's bulk insert little.
        indexes = [models.Index(fields=["victim"], condition=~models.Q(victim=""), name="scheduling_decision_victim"),
                   models.Index(fields=["preemptor"], condition=~models.Q(preemptor=""),
                                name="scheduling_decision_preemptor")]

    def __str__(self) -> str:
        return f"pass {self.pass_seq} {self.action} {self.request or self.victim} {self.reason}"


class BindingQuerySet(AppendOnlyQuerySet):
    def open(self):
        """Holds that have not ended: open rows no close row points at."""
        return self.filter(event=Binding.Event.OPEN, closed_by__isnull=True)


class Binding(AppendOnlyModel):
    """One admitted request's hold on a share (owned, or borrowed under a lender scope), or its end.

    Append-only: an admission inserts an ``open`` row; when the allocation ends (the pods finished,
    an eviction completed, or the engine released it) the same pass inserts a ``close`` row that
    points at it. Nothing is ever updated, so a pass writes its bindings as one bulk INSERT in the
    transaction that records its decisions, readers never wait on row locks, and the table is a
    replayable history like the decision log. The one-to-one ``opened`` link makes a second close
    of the same hold impossible at the database level.
    """

    class Event(models.TextChoices):
        OPEN = "open"
        CLOSE = "close"

    class Share(models.TextChoices):
        OWNED = "owned"
        BORROWED = "borrowed"

    class End(models.TextChoices):
        FINISHED = "FINISHED", "the pods finished or were removed"
        EVICTED = "EVICTED", "evicted; Kubernetes confirmed the pods gone"
        RELEASED = "RELEASED", "released by the engine (grace and slack ran out)"
        SHRUNK = "SHRUNK", "shrunk by the engine (elastic gang): reopened at the new size"

    cluster = models.ForeignKey("tenants.Cluster", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    event = models.CharField(max_length=8, choices=Event.choices)
    request = models.CharField(max_length=KEY_MAX, help_text="The engine's request id: <namespace>/<pod or gang>.")
    namespace = models.CharField(max_length=63)
    pods = models.JSONField(default=list, blank=True)
    share = models.CharField(max_length=16, choices=Share.choices)
    lender_scope = models.CharField(max_length=100, blank=True,
                                    help_text="Engine node whose pool lends (root = the cluster); empty when owned.")
    lender = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               help_text="The lender scope's tenant; empty for the cluster or when owned.")
    demand = models.JSONField(default=dict)
    borrowed = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=64, help_text="The admission's reason, or how the hold ended.")
    opened = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="closed_by")
    pass_seq = models.PositiveBigIntegerField()
    config_version = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    objects = BindingQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["cluster", "event", "request"], name="scheduling_binding_lookup")]

    def __str__(self) -> str:
        return f"{self.event} {self.request} ({self.share}) pass {self.pass_seq}"


from .policy_models import SchedulingSettings, TenantSchedulingPolicy  # noqa: E402 (operators' settings)

__all__ = ["Binding", "EngineSnapshot", "SchedulingDecision", "SchedulingRequest", "SchedulingSettings",
           "TenantSchedulingPolicy"]
