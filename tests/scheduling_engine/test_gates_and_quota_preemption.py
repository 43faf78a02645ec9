"""A4c two-phase gates and D2 quota preemption at the engine API (the scenario files show the
timelines; these check the API edges: partial clearing, queries, validation, idempotence)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduling.engine import clear_gates, decide, finish, submit, switch_config
from scheduling.engine.explain import tenant_status, why
from scheduling.engine.model import Allocation, Config, Node, Request, Settings, State, Status
from scheduling.engine.simulate import initial_state


def _config(**t1) -> Config:
    nodes = (Node(id="root"), Node(id="T1", parent="root", owned={"u": 4}, **t1),
             Node(id="T2", parent="root", owned={"u": 4}))
    return Config(version=1, resources=("u",), capacity={"u": 8}, nodes=nodes)


def test_a_reservation_waits_for_every_gate_and_shows_in_the_queries():
    config = _config()
    state = submit(State(), [Request(id="g", leaf="T1", demand={"u": 3}, gates=("budget", "provisioning"))])
    state = decide(config, state, 0).state
    assert tenant_status(config, state, "T1")["reserved"] == {"u": 3}
    assert why(state, "g")["reason"] == "PENDING_GATES" and why(state, "g")["quota_reserved"] is True

    state = clear_gates(state, ["g", "unknown"], names=["budget"])
    plan = decide(config, state, 1)
    assert plan.decisions == ()  # one check still runs: nothing to say, the reservation holds
    assert why(plan.state, "g")["gates"] == ["provisioning"]

    plan = decide(config, clear_gates(plan.state, ["g"]), 2)
    assert [(d.action, d.reason) for d in plan.decisions] == [("ADMIT", "ADMITTED_WITHIN_OWNED")]
    assert tenant_status(config, plan.state, "T1")["reserved"] == {"u": 0}
    assert decide(config, plan.state, 2).decisions == ()  # P13


def test_a_gated_reservation_admitted_on_clearing_keeps_its_decision_log_deterministic():
    config = _config()
    batch = [Request(id=f"g{i}", leaf="T1" if i % 2 else "T2", demand={"u": 2}, gates=("c",)) for i in range(6)]
    a = decide(config, submit(State(), batch), 0)
    b = decide(config, submit(State(), list(reversed(batch))), 0)
    assert a.decisions == b.decisions and a.state == b.state  # N2 / P6
    assert sorted(d.request for d in a.decisions if d.action == "RESERVE") == ["g0", "g1", "g2", "g3"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "30"])
def test_a_bad_quota_preemption_delay_rejects_the_whole_version(bad):
    current = _config()
    kept, decisions = switch_config(current, replace(_config(quota_preemption_delay=bad), version=2), 5)
    assert kept is current
    assert [d.reason for d in decisions] == ["REJECT_INVALID_CONFIG"]
    assert decisions[0].facts["errors"] == ["V4: T1: quota_preemption_delay must be an integer ≥ 0"]


def test_quota_preemption_clock_restarts_when_the_node_is_back_under_max():
    config = _config(max={"u": 5}, quota_preemption_delay=10)
    state = initial_state(config, [{"id": "r1", "leaf": "T1", "demand": {"u": 1}, "count": 7, "admitted_at": -5}])
    plan = decide(config, state, 0)
    assert plan.decisions == () and plan.state.over_max_since == (("T1", 0),)
    assert decide(config, plan.state, 0).state.over_max_since == (("T1", 0),)  # same clock, no news

    back = decide(config, finish(plan.state, ["r6", "r7"]), 5)  # within max again: the clock stops
    assert back.state.over_max_since == ()
    again = decide(config, submit(back.state, [Request(id="x", leaf="T1", demand={"u": 1})]), 20)
    assert [(d.action, d.reason) for d in again.decisions] == [("PENDING", "PENDING_MAX")]


def test_quota_preemption_evicts_the_newest_lowest_priority_down_to_max_and_explains_it():
    config = _config(max={"u": 5}, quota_preemption_delay=10)
    state = initial_state(config, [{"id": "r1", "leaf": "T1", "demand": {"u": 1}, "count": 7, "admitted_at": -5}])
    state = decide(config, state, 3).state  # the clock starts at 3
    assert decide(config, state, 12).decisions == ()
    plan = decide(config, state, 13)
    assert [(d.action, d.reason, d.victim, d.preemptor) for d in plan.decisions] == [
        ("EVICT", "EVICT_QUOTA_DECREASE", "r7", None), ("EVICT", "EVICT_QUOTA_DECREASE", "r6", None)]
    facts = plan.decisions[0].facts
    assert (facts["node"], facts["max"], facts["used_before"], facts["used_after"]) == (
        "T1", {"u": 5}, {"u": 7}, {"u": 6})
    assert "more than its max" in plan.decisions[0].message
    assert plan.state.over_max_since == ()  # running usage is within max; the victims are leaving
    assert decide(config, plan.state, 13).decisions == ()  # P13


def test_quota_preemption_runs_before_the_pending_are_judged_so_a_second_pass_has_nothing_to_add():
    """P13 with D2.  C's max is 2 but it runs 8u (v in C2, w in C1), over max since t=65 with a
    delay of 10.  At t=77 quota preemption evicts v first; q (C2, priority 100) is then judged with
    v already leaving and waits on it.  (Run after the pass, the rule left q judged on the state
    before the eviction, and a second pass at t=77 changed its reason.)"""
    config = Config(version=1, resources=("u",), capacity={"u": 8}, settings=Settings(fair_share_preemption=True),
                    nodes=(
                        Node(id="root"),
                        Node(id="A", parent="root", owned={"u": 6}),
                        Node(id="B", parent="A", owned={"u": 3}),
                        Node(id="C", parent="B", owned={"u": 2}, max={"u": 2}, quota_preemption_delay=10),
                        Node(id="C1", parent="C", owned={"u": 2}),
                        Node(id="C2", parent="C"),
                    ))
    running = {"v": Request(id="v", leaf="C2", demand={"u": 4}, priority=50, created_at=20),
               "w": Request(id="w", leaf="C1", demand={"u": 4}, priority=100, created_at=20, reclaim_grace=0)}
    state = State(requests=running,
                  status={k: Status("Admitted", "ADMITTED_BORROWING", pending_since=20) for k in running},
                  allocations={k: Allocation(k, q.leaf, q.demand, admitted_at=31) for k, q in running.items()},
                  over_max_since=(("C", 65),))
    state = submit(state, [Request(id="q", leaf="C2", demand={"u": 1}, priority=100, created_at=77,
                                   reclaim_grace=0)])
    first = decide(config, state, 77)
    assert [d.reason for d in first.decisions if d.action == "EVICT"] == ["EVICT_QUOTA_DECREASE"]
    assert first.decisions[0].victim == "v"  # the eviction comes first, then the verdicts that see it
    assert first.state.status["q"].state == "Pending" and first.state.allocations["v"].terminating
    assert decide(config, first.state, 77).decisions == ()


def test_a_gated_reservation_never_takes_room_a_better_ranked_request_gets_in_the_next_pass():
    """P13 with A4c × P5b.  X owns the cluster and runs f; P borrows 4u for r.  At t=5: s (S, tier
    1) is judged first and waits; p (P, priority 100) evicts r (P-W), which frees 3u more than p
    needs in the planning view.  The gated g (G, tier 0) ranks below s: s shares r's room (P5b) and
    g waits — in the first pass, not only in a second one at the same instant, which hands g's
    borrowing reservation back and re-runs the tournament."""
    config = Config(version=1, resources=("u",), capacity={"u": 10}, nodes=(
        Node(id="root"),
        Node(id="X", parent="root", owned={"u": 10}),
        Node(id="P", parent="root", share_tier=1),
        Node(id="S", parent="root", share_tier=1),
        Node(id="G", parent="root"),
    ))
    state = initial_state(config, [
        {"id": "f", "leaf": "X", "demand": {"u": 6}, "admitted_at": -10},
        {"id": "r", "leaf": "P", "demand": {"u": 4}, "admitted_at": -10, "reclaim_grace": 100},
    ])
    state = submit(state, [
        Request(id="s", leaf="S", demand={"u": 2}, created_at=5),
        Request(id="p", leaf="P", demand={"u": 1}, created_at=5, priority=100),
        Request(id="g", leaf="G", demand={"u": 2}, created_at=5, gates=("check",)),
    ])
    first = decide(config, state, 5)
    assert [(d.action, d.request, d.victim) for d in first.decisions] == [
        ("RESERVE", "p", None), ("EVICT", None, "r"), ("RESERVE", "s", None), ("PENDING", "g", None)]
    assert first.state.status["s"].victims == ("r",) and first.state.status["g"].reason == "PENDING_NO_CAPACITY"
    assert decide(config, first.state, 5).decisions == ()
