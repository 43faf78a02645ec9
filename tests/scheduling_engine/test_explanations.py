"""Rules X in the words a tenant admin reads: a waiting pod's binding constraint in its node's
numbers (X2), an eviction's victim side before and after (X3), and messages built from the facts
alone (N3), with no Python reprs in them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import scheduling.engine.simulate as simulate
from scheduling.engine.wording import message

HERE = Path(__file__).parent / "scenarios"
FILES = sorted(HERE.glob("*.yaml"))


def decisions_of(name: str) -> list:
    """Every decision the simulator makes for one scenario file, facts and all."""
    seen, compact = [], simulate.compact

    def keep(d, explain):
        seen.append(d)
        return compact(d, explain)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(simulate, "compact", keep)
        simulate.run(yaml.safe_load((HERE / f"{name}.yaml").read_text()))
    return seen


def first(decisions, action: str, who: str):
    return next(d for d in decisions if d.action == action and who in (d.request, d.victim))


WAITING = [
    ("t04_borrow_limit", "b13", "PENDING_BORROW_LIMIT",
     {"node": "T2", "kind": "borrow_limit", "used": 12, "owned": 8, "borrow_limit": 4, "available": 0, "needed": 1},
     "b13 waits: T2 uses 12 of owned 8 + borrow limit 4 u; it needs 1, 0 available."),
    ("d2b_quota_preemption_only_after_the_delay", "b4", "PENDING_MAX",
     {"node": "T1", "kind": "max", "used": 7, "max": 7},
     "b4 waits: T1 uses 7 of max 7 u; it needs 1, 0 available."),
    ("t05_lend_limit", "b11", "PENDING_LEND_LIMIT",  # the lender whose lend limit holds its idle share back
     {"node": "root", "kind": "lend_limit", "via": "T1", "used": 10, "owned": 16, "free": 0, "lend_limit": 2,
      "lender_unused": 8},
     "b11 waits: the cluster has 0 u free (10 used of 16) and T1 may lend only 2 of its 8 unused; it needs 1."),
    ("f1a_lend_limit_deep_in_the_tree", "b13", "PENDING_LEND_LIMIT",  # held back below the root's children
     {"node": "root", "kind": "lend_limit", "via": "c1", "used": 12, "owned": 16, "free": 0, "lend_limit": 0,
      "lender_unused": 4},
     "b13 waits: the cluster has 0 u free (12 used of 16) and c1 may lend only 0 of its 4 unused; it needs 1."),
    ("t15_fair_share_converges", "b11", "PENDING_PREEMPTION_DELAY",
     {"node": "root", "kind": "capacity", "used": 30, "owned": 30, "free": 0},
     "b11 waits: the cluster has 0 u free (30 used of 30); it needs 1. It may preempt from t=31, when its "
     "preemption delay is over."),
    ("t21_non_preemptible", "np", "PENDING_NON_PREEMPTIBLE_NEEDS_OWNED",
     {"node": "T2", "kind": "owned", "used": 8, "owned": 8, "needed": 2},
     "np waits: it is not preemptible, so it may only use owned capacity, and T2 uses 8 of owned 8 u; it needs 2, "
     "0 available."),
]


@pytest.mark.parametrize(("scenario", "request_id", "reason", "binding", "text"), WAITING, ids=[w[2] for w in WAITING])
def test_a_waiting_request_reads_its_binding_constraint_in_the_numbers_of_its_node(scenario, request_id, reason,
                                                                                   binding, text):
    d = first(decisions_of(scenario), "PENDING", request_id)
    assert d.reason == reason
    assert d.facts["binding"].items() >= binding.items()
    assert d.message == text


def test_a_borrowing_admission_reads_the_borrower_in_its_numbers_after_admission():
    d = first(decisions_of("t01_seed_borrow"), "ADMIT", "b9")
    assert d.facts["per_node"]["T2"] == {"owned": {"u": 8}, "used_before": {"u": 8}, "used_after": {"u": 9},
                                         "borrow_limit": {"u": 4}}
    assert d.message == "Admitted b9 by borrowing 1 u under the cluster (T2 uses 9 of owned 8 + borrow limit 4 u)."


EVICTIONS = [
    ("a4c_c_non_fitting_gated_request_reserves_and_evicts_nothing", "s7",
     {"victim_node": "T2", "used_before": {"u": 7}, "used_after": {"u": 6}, "owned": {"u": 4},
      "borrowed_before": {"u": 3}, "borrowed_after": {"u": 2}},
     "Evicting s7 (EVICT_RECLAIM_OWNED) for big: T2 was borrowing: it used 7 of owned 4 u before this eviction, "
     "6 after."),
    ("t15_fair_share_converges", "a20",  # S2-a: DRS(B + b11) = 1/30 ≤ DRS(A − a20) = 3/10
     {"victim_node": "A", "used_before": {"u": 20}, "used_after": {"u": 19}, "drs_victim_side_before": "1/3",
      "drs_victim_side": "3/10", "preemptor_node": "B", "drs_preemptor_side": "1/30"},
     "Evicting a20 (EVICT_FAIR_SHARE) for b11: A was borrowing: it used 20 of owned 10 u before this eviction, "
     "19 after; its DRS goes from 1/3 to 3/10, that of B with b11 is 1/30."),
    ("t13b_priority_vs_borrowing", "r8",
     {"victim_node": "T1", "used_before": {"u": 8}, "used_after": {"u": 7}, "victim_priority": 0,
      "preemptor_priority": 100},
     "Evicting r8 (EVICT_WITHIN_LEAF_PRIORITY) for h1: priority 0 against 100; T1 used 8 of owned 8 u before this "
     "eviction, 7 after."),
    ("t31_elastic_shrink", "g",  # P4: a shrink is told like an eviction
     {"victim_node": "T2", "used_before": {"u": 12}, "used_after": {"u": 11}, "borrow_limit": {"u": 4}},
     "Shrinking g from 12 u to 11 u (EVICT_RECLAIM_OWNED) for a5 instead of evicting it: T2 was borrowing: it used "
     "12 of owned 8 + borrow limit 4 u before this shrink, 11 after."),
]


@pytest.mark.parametrize(("scenario", "victim", "facts", "text"), EVICTIONS, ids=[e[0][:4] for e in EVICTIONS])
def test_an_eviction_names_the_victim_sides_numbers_before_and_after(scenario, victim, facts, text):
    d = next(d for d in decisions_of(scenario) if d.action in ("EVICT", "SHRINK") and d.facts["victim"] == victim)
    assert d.facts.items() >= facts.items()
    assert d.message == text


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_message_follows_from_its_facts_alone_and_reads_without_python_reprs(path):
    """N3: the message of the facts as the portal stores them (JSON) is the message recorded."""
    for d in decisions_of(path.stem):
        stored = json.loads(json.dumps(d.facts, default=str))
        assert message(d.action, d.reason, d.request, stored) == d.message, d
        assert not any(mark in d.message for mark in ("{'", "['", "None", "()")), d.message
