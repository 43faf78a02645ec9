"""The engine config built from tenants' plans carries the operators' policy and settings."""

from __future__ import annotations

from fractions import Fraction

import pytest

from scheduling import snapshot as snap
from scheduling.engine.model import BorrowPreempt, Node, Settings
from scheduling.models import SchedulingSettings, TenantSchedulingPolicy
from tenants.models import Namespace

pytestmark = pytest.mark.django_db


def nodes(**kwargs) -> dict[str, Node]:
    config, _ = snap.build_config(capacity={"cpu": 64000}, version=1, **kwargs)
    return {n.id: n for n in config.nodes}


def test_without_policies_every_node_has_the_engines_defaults(tree):
    config, _ = snap.build_config(capacity={"cpu": 64000}, version=1)
    assert config.settings == Settings()
    default = Node(id="x")
    for node in config.nodes[1:]:
        assert (node.weight, node.queueing, node.fairshare_delay, node.borrow_preempt, node.fence) == (
            default.weight, default.queueing, default.fairshare_delay, default.borrow_preempt, default.fence)


def test_a_tenants_policy_becomes_its_nodes_fields(tree):
    TenantSchedulingPolicy.objects.create(
        tenant=tree["b"], weight="3/2", share_tier=2, reclaim_policy="LowerPriority",
        within_policy="LowerOrNewerEqualPriority", borrow_preempt_policy="LowerPriority",
        borrow_preempt_max_priority_threshold=100, fence=True, lendout_grace=60, reclaim_delay=5,
        fairshare_delay=0, min_runtime_fairshare=600, queueing="StrictFIFO", quota_preemption_delay=120)
    b = nodes()[snap.node_id(tree["b"].pk)]
    assert b.weight == Fraction(3, 2) and b.share_tier == 2 and b.queueing == "StrictFIFO"
    assert (b.reclaim_policy, b.within_policy) == ("LowerPriority", "LowerOrNewerEqualPriority")
    assert b.borrow_preempt == BorrowPreempt(policy="LowerPriority", max_priority_threshold=100)
    assert (b.fence, b.lendout_grace, b.reclaim_delay, b.fairshare_delay) == (True, 60, 5, 0)
    assert (b.min_runtime_fairshare, b.quota_preemption_delay) == (600, 120)
    assert nodes()[snap.node_id(tree["a"].pk)].queueing == "BestEffortFIFO"  # others keep the defaults


def test_the_self_leaf_inherits_how_its_tenants_requests_queue_wait_and_preempt(tree, cluster):
    """A tenant with children and namespaces of its own has a leaf t<pk>#self for those namespaces."""
    Namespace.objects.create(tenant=tree["a"], cluster=cluster, name="a-own")
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], weight="5", share_tier=3, fence=True,
                                          queueing="StrictFIFO", within_policy="Never", reclaim_delay=7,
                                          fairshare_delay=3, borrow_preempt_policy="LowerPriority",
                                          quota_preemption_delay=60, lendout_grace=30)
    own = nodes()[f"{snap.node_id(tree['a'].pk)}#self"]
    assert (own.queueing, own.within_policy, own.reclaim_delay, own.fairshare_delay) == ("StrictFIFO", "Never", 7, 3)
    assert own.borrow_preempt.policy == "LowerPriority"
    # Sibling ranking, fences, lend-out grace and quota preemption stay on the tenant's node.
    assert (own.weight, own.share_tier, own.fence, own.lendout_grace, own.quota_preemption_delay) == (1, 0, False,
                                                                                                      None, 0)


def test_the_cluster_wide_settings_become_the_configs_settings(tree):
    SchedulingSettings.objects.create(pk=1, fair_share_preemption=True, fs_strategies=["S2a"], fs_epsilon="1/10",
                                      fs_budget="1/5", fs_budget_window=20, release_slack=30,
                                      borrowing_preference="PreemptOverBorrow", preempted_priority_boost=10)
    config, _ = snap.build_config(capacity={"cpu": 64000}, version=1)
    assert config.settings == Settings(fair_share_preemption=True, fs_strategies=("S2a",), fs_epsilon=Fraction(1, 10),
                                       fs_budget=Fraction(1, 5), fs_budget_window=20, release_slack=30,
                                       borrowing_preference="PreemptOverBorrow", preempted_priority_boost=10)


def test_a_policy_change_is_a_new_config_version_that_survives_the_json_round_trip(tree):
    before, _ = snap.build_config(capacity={"cpu": 64000}, version=1)
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], weight="1/3", queueing="StrictFIFO",
                                          borrow_preempt_policy="LowerPriority", quota_preemption_delay=45)
    SchedulingSettings.objects.create(pk=1, fs_budget="1/10")
    after, _ = snap.build_config(capacity={"cpu": 64000}, version=2)
    assert snap.config_digest(after) != snap.config_digest(before)  # the cycle switches to it (V6)
    again = snap.config_from_json(snap.config_to_json(after))
    assert snap.config_digest(again) == snap.config_digest(after)
    a = {n.id: n for n in again.nodes}[snap.node_id(tree["a"].pk)]
    assert (a.weight, a.queueing, a.quota_preemption_delay) == (Fraction(1, 3), "StrictFIFO", 45)
    assert again.settings.fs_budget == Fraction(1, 10)
