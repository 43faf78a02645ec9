"""What operators set for the scheduling engine: a policy per tenant and one set of cluster-wide knobs.

Both are optional rows: a tenant without a policy, or a platform without settings, gets the
engine's own defaults (``scheduling.engine.model.Node`` and ``Settings``), which the field
defaults below repeat. Re-exported by ``scheduling.models``; written only through
``scheduling.policy`` (validated against the engine's rules, audited).
"""

from __future__ import annotations

from django.db import models

from scheduling.engine.model import (
    BORROW_PREEMPT_POLICIES,
    PREFERENCES,
    QUEUEINGS,
    RECLAIM_POLICIES,
    WITHIN_POLICIES,
    Node,
    Settings,
)

ENGINE_NODE = Node(id="defaults")
ENGINE_SETTINGS = Settings()


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def default_fs_strategies() -> list[str]:
    return list(ENGINE_SETTINGS.fs_strategies)


class TenantSchedulingPolicy(models.Model):
    """How the engine treats one tenant's subtree (spec §10.2 Node fields); no row = the engine's defaults."""

    # CASCADE, not PROTECT: a policy says nothing once its tenant is gone, and tenant deletion
    # (tenants.services.tenants.tenant_delete) is audited and refuses tenants that still hold work.
    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="scheduling_policy")
    weight = models.CharField(max_length=32, default=str(ENGINE_NODE.weight),
                              help_text="Share of idle capacity among borrowing siblings, a fraction such as 3/2.")
    share_tier = models.IntegerField(default=ENGINE_NODE.share_tier,
                                     help_text="Siblings in a higher tier are offered idle capacity first.")
    reclaim_policy = models.CharField(max_length=32, choices=_choices(RECLAIM_POLICIES),
                                      default=ENGINE_NODE.reclaim_policy)
    within_policy = models.CharField(max_length=32, choices=_choices(WITHIN_POLICIES),
                                     default=ENGINE_NODE.within_policy)
    borrow_preempt_policy = models.CharField(max_length=32, choices=_choices(BORROW_PREEMPT_POLICIES),
                                             default=ENGINE_NODE.borrow_preempt.policy)
    borrow_preempt_max_priority_threshold = models.IntegerField(
        null=True, blank=True, help_text="Borrow-preemption victims have at most this priority; empty: any lower.")
    fence = models.BooleanField(default=ENGINE_NODE.fence)
    lendout_grace = models.PositiveIntegerField(null=True, blank=True,
                                                help_text="Seconds; empty means owners wait for any victim grace.")
    reclaim_delay = models.PositiveIntegerField(default=ENGINE_NODE.reclaim_delay)
    fairshare_delay = models.PositiveIntegerField(default=ENGINE_NODE.fairshare_delay)
    min_runtime_fairshare = models.PositiveIntegerField(null=True, blank=True,
                                                        help_text="Seconds; empty inherits the nearest ancestor's.")
    queueing = models.CharField(max_length=32, choices=_choices(QUEUEINGS), default=ENGINE_NODE.queueing)
    quota_preemption_delay = models.PositiveIntegerField(default=ENGINE_NODE.quota_preemption_delay,
                                                         help_text="Seconds over max before evicting down to it; "
                                                                   "0 never evicts.")
    required_checks = models.JSONField(default=list, blank=True,
                                       help_text="Scheduling gates every release pod in the subtree carries.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant scheduling policy"
        verbose_name_plural = "tenant scheduling policies"

    def __str__(self) -> str:
        return f"scheduling policy of {self.tenant}"


class SchedulingSettings(models.Model):
    """The engine's cluster-wide settings (spec §10.2 global settings); one row, pk 1, or none = defaults."""

    SINGLETON = 1

    fair_share_preemption = models.BooleanField(default=ENGINE_SETTINGS.fair_share_preemption)
    fs_strategies = models.JSONField(default=default_fs_strategies)
    fs_epsilon = models.CharField(max_length=32, default=str(ENGINE_SETTINGS.fs_epsilon))
    fs_budget = models.CharField(max_length=32, blank=True, default="",
                                 help_text="Fraction of capacity fair share may evict per window; empty = no budget.")
    fs_budget_window = models.PositiveIntegerField(default=ENGINE_SETTINGS.fs_budget_window)
    release_slack = models.PositiveIntegerField(default=ENGINE_SETTINGS.release_slack)
    borrowing_preference = models.CharField(max_length=32, choices=_choices(PREFERENCES),
                                            default=ENGINE_SETTINGS.borrowing_preference)
    preempted_priority_boost = models.PositiveIntegerField(default=ENGINE_SETTINGS.preempted_priority_boost)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scheduling settings"
        verbose_name_plural = "scheduling settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="scheduling_settings_singleton")]

    def __str__(self) -> str:
        return "cluster-wide scheduling settings"
