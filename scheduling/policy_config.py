"""Operators' policy rows → the engine's Node fields and Settings, and → what the API shows.

A tenant's row sets the fields of its engine node ``t<pk>``. A tenant that has both child
tenants and namespaces of its own also has a synthetic leaf ``t<pk>#self`` holding those
namespaces' requests (spec §10.2 "imaginary child"). The engine reads the *leaf-level* fields
(how requests queue, wait and preempt: ``LEAF_FIELDS``) on the leaf that holds the request, so the
``#self`` leaf inherits them from its tenant: an operator who makes a tenant StrictFIFO means its
own namespaces too. The *subtree-level* fields stay on the tenant's node only: ``weight`` and
``share_tier`` rank siblings (the tenant among its siblings, not its own namespaces against its
children), ``fence`` and ``lendout_grace`` already cover the whole subtree,
``min_runtime_fairshare`` is inherited by the engine itself, and ``quota_preemption_delay`` acts
on a node's ``max``, which the ``#self`` leaf does not have.
"""

from __future__ import annotations

from fractions import Fraction

from scheduling.engine.model import BorrowPreempt, Settings

from .policy_models import SchedulingSettings, TenantSchedulingPolicy

LEAF_FIELDS = ("reclaim_policy", "within_policy", "borrow_preempt", "reclaim_delay", "fairshare_delay", "queueing")
PLAIN_NODE_FIELDS = ("share_tier", "reclaim_policy", "within_policy", "fence", "lendout_grace", "reclaim_delay",
                     "fairshare_delay", "min_runtime_fairshare", "queueing", "quota_preemption_delay")


def node_policy(policy: TenantSchedulingPolicy | None) -> dict:
    """Keyword arguments for the tenant's engine ``Node`` (empty: the engine's defaults)."""
    if policy is None:
        return {}
    return {
        **{name: getattr(policy, name) for name in PLAIN_NODE_FIELDS},
        "weight": Fraction(policy.weight),
        "borrow_preempt": BorrowPreempt(policy=policy.borrow_preempt_policy,
                                        max_priority_threshold=policy.borrow_preempt_max_priority_threshold),
    }


def self_leaf_policy(policy: TenantSchedulingPolicy | None) -> dict:
    """Keyword arguments for the tenant's ``#self`` leaf: the leaf-level fields only (see the module doc)."""
    fields = node_policy(policy)
    return {name: fields[name] for name in LEAF_FIELDS if name in fields}


def engine_settings(row: SchedulingSettings | None) -> Settings:
    if row is None:
        return Settings()
    return Settings(
        fair_share_preemption=row.fair_share_preemption, fs_strategies=tuple(row.fs_strategies),
        fs_epsilon=Fraction(row.fs_epsilon), fs_budget=Fraction(row.fs_budget) if row.fs_budget else None,
        fs_budget_window=row.fs_budget_window, release_slack=row.release_slack,
        borrowing_preference=row.borrowing_preference, preempted_priority_boost=row.preempted_priority_boost)


def policy_as_dict(policy: TenantSchedulingPolicy) -> dict:
    """The writable fields as the API names them (borrow_preempt nested, as in the engine)."""
    return {
        "weight": policy.weight, "share_tier": policy.share_tier, "reclaim_policy": policy.reclaim_policy,
        "within_policy": policy.within_policy,
        "borrow_preempt": {"policy": policy.borrow_preempt_policy,
                           "max_priority_threshold": policy.borrow_preempt_max_priority_threshold},
        "fence": policy.fence, "lendout_grace": policy.lendout_grace, "reclaim_delay": policy.reclaim_delay,
        "fairshare_delay": policy.fairshare_delay, "min_runtime_fairshare": policy.min_runtime_fairshare,
        "queueing": policy.queueing, "quota_preemption_delay": policy.quota_preemption_delay,
        "required_checks": list(policy.required_checks),
    }


def settings_as_dict(row: SchedulingSettings) -> dict:
    return {
        "fair_share_preemption": row.fair_share_preemption, "fs_strategies": list(row.fs_strategies),
        "fs_epsilon": row.fs_epsilon, "fs_budget": row.fs_budget or None, "fs_budget_window": row.fs_budget_window,
        "release_slack": row.release_slack, "borrowing_preference": row.borrowing_preference,
        "preempted_priority_boost": row.preempted_priority_boost,
    }
