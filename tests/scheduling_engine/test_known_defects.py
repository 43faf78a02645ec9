"""Minimal reproductions of the engine defects in known_defects.py, as strict xfail tests.

Each asserts the property the specification states.  Until the engine is fixed it fails, as
expected; once fixed it passes, which fails the run (strict): then remove its xfail mark and the
matching waiver in known_defects.py.
"""

from __future__ import annotations

import pytest

from scheduling.engine import decide, submit
from scheduling.engine.model import Allocation, Config, Node, Request, Settings, State, Status
from scheduling.engine.simulate import initial_state, run


@pytest.mark.xfail(strict=True, reason="known defect GATE_ORDER (known_defects.py)")
def test_a_second_pass_keeps_the_gate_reservation_the_first_pass_took():
    """P13.  X owns the cluster and runs f; P borrows 4u for r.  At t=5: s (S, tier 1) is judged
    first and waits; p (P, priority 100) evicts r (P-W), which frees 3u more than p needs in the
    planning view; the gated g (G, tier 0) reserves 2u of them.  A second pass at t=5 hands g's
    borrowing reservation back and gives the room to s, which ranks above g (tier)."""
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
    assert [(d.action, d.request) for d in first.decisions if d.action == "RESERVE"] == [("RESERVE", "p"),
                                                                                         ("RESERVE", "g")]
    assert decide(config, first.state, 5).decisions == ()


@pytest.mark.xfail(strict=True, reason="known defect QUOTA_AFTER_PASS (known_defects.py)")
def test_quota_preemption_leaves_no_reason_for_a_second_pass_to_change():
    """P13.  C's max is 2 but it runs 8u (v in C2, w in C1), over max since t=65 with a delay of
    10.  At t=77 q (C2, priority 100) is judged PENDING_NO_VICTIMS; then quota preemption evicts
    v.  A second pass at t=77 sees v Terminating and changes q's reason."""
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
    assert decide(config, first.state, 77).decisions == ()


RECLAIM_BACK = {
    "resources": ["u"], "capacity": {"u": 4}, "until": 50,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 2}},
             {"id": "T2", "parent": "root", "owned": {"u": 2}}],
    "running": [{"id": "b1", "leaf": "T2", "demand": {"u": 1}, "count": 4, "admitted_at": -10, "reclaim_grace": 0}],
    "events": [{"t": 10, "submit": [{"id": "a1", "leaf": "T1", "demand": {"u": 1}, "reclaim_grace": 0}]},
               {"t": 20, "submit": [{"id": "a2", "leaf": "T1", "demand": {"u": 1}, "priority": 50,
                                     "reclaim_grace": 0}]},
               {"t": 25, "finish": ["b3", "b4"]},
               {"t": 30, "finish": ["b2"]},
               {"t": 30, "submit": [{"id": "a3", "leaf": "T1", "demand": {"u": 1}, "priority": 50,
                                     "reclaim_grace": 0}]},
               {"t": 40, "submit": [{"id": "b5", "leaf": "T2", "demand": {"u": 1}, "reclaim_grace": 0}]}],
}


@pytest.mark.xfail(strict=True, reason="known defect RECLAIM_BACK (known_defects.py)")
def test_a_request_that_reclaimed_from_a_tenant_is_never_reclaimed_back_by_it():
    """P7.  a1 (priority 0) reclaims b4 from T2 at t=10, a2 (priority 50) reclaims b3 at t=20;
    at t=30 a3 (priority 50) is admitted by borrowing a unit T2 freed.  At t=40 T2's b5 reclaims
    from T1, which borrows again because of a3 — and the candidate order (priority first) takes
    a1, which had reclaimed from T2."""
    reclaims = [(d["preemptor"], d["victim"]) for d in run(RECLAIM_BACK)["decisions"]
                if d["action"] == "EVICT" and d["reason"] == "EVICT_RECLAIM_OWNED"]
    assert reclaims[:2] == [("a1", "b4"), ("a2", "b3")]
    assert ("b5", "a1") not in reclaims
