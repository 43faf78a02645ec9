"""H1 and P7 (no reclaim ping-pong): a request admitted on capacity it reclaimed from another
side is never taken back by that side through P-R or P-F while its own side owns what it owned
then (``Allocation.reclaim_guard``, victims.Candidates._taken_back).  Its side may borrow again
later; then what borrows is taken instead, or the owner waits until it can be."""

from __future__ import annotations

from scheduling.engine import decide, release, submit
from scheduling.engine.explain import why
from scheduling.engine.simulate import build_config, build_request, initial_state, run


def _reclaims(out: dict) -> list[tuple[str, str]]:
    return [(d["preemptor"], d["victim"]) for d in out["decisions"]
            if d["action"] == "EVICT" and d["reason"] == "EVICT_RECLAIM_OWNED"]


TREE = [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 2}},
        {"id": "T2", "parent": "root", "owned": {"u": 2}}]

RECLAIM_BACK = {
    "resources": ["u"], "capacity": {"u": 4}, "until": 50, "tree": TREE,
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


def test_a_request_that_reclaimed_from_a_tenant_is_never_reclaimed_back_by_it():
    """a1 (priority 0) reclaims b4 from T2 at t=10, a2 (priority 50) b3 at t=20; at t=30 a3
    (priority 50) is admitted by borrowing a unit T2 freed.  At t=40 T2's b5 reclaims from T1,
    which borrows again because of a3: it takes a3, the borrower, not a1 — though the candidate
    order (priority first) ranks a1 first."""
    reclaims = _reclaims(run(RECLAIM_BACK))
    assert reclaims == [("a1", "b4"), ("a2", "b3"), ("b5", "a3")]


RESERVED_ON_ITS_SIDE = {
    "resources": ["u"], "capacity": {"u": 6}, "until": 140,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 3}},
             {"id": "T2", "parent": "root", "owned": {"u": 3}}],
    "running": [{"id": "b1", "leaf": "T2", "demand": {"u": 1}, "priority": 60, "admitted_at": -10, "reclaim_grace": 0},
                {"id": "b2", "leaf": "T2", "demand": {"u": 1}, "admitted_at": -9, "reclaim_grace": 0},
                {"id": "g", "leaf": "T2", "demand": {"u": 4}, "priority": 50, "admitted_at": -8, "reclaim_grace": 100}],
    "events": [{"t": 10, "submit": [{"id": "a1", "leaf": "T1", "demand": {"u": 1}}]},
               {"t": 12, "finish": ["b2"]},
               {"t": 20, "submit": [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]},
               {"t": 21, "submit": [{"id": "x", "leaf": "T1", "demand": {"u": 3}}]},
               {"t": 30, "submit": [{"id": "w", "leaf": "T2", "demand": {"u": 1}}]}],
}


def test_an_owner_takes_back_its_share_from_a_reservation_rather_than_reclaim_back():
    """a1 reclaims b2 from T2 at t=10.  At t=20 T2's y evicts its own g (4u, grace 100) for 1u;
    at t=21 T1's x (3u) shares the room g leaves (P5b): T1 borrows, but only in the planning
    view, through a reservation, which no class can take.  At t=30 T2's w is within its owned
    share: it does not take a1 back; x, which evicted nothing, hands its reservation back
    (reserved_reclaim.py) and w waits for g in its place — admitted when g leaves, within the P4
    bound of t=30 + 1 + g's grace 100 + slack 10.  Nothing else is evicted."""
    out = run(RESERVED_ON_ITS_SIDE)
    assert _reclaims(out) == [("a1", "b2")]
    assert [d["victim"] for d in out["decisions"] if d["action"] == "EVICT"] == ["b2", "g"]
    assert [(d["t"], d["request"], d["victims"]) for d in out["decisions"] if d["action"] == "RESERVE"] == [
        (10, "a1", ["b2"]), (20, "y", ["g"]), (21, "x", ["g"]), (30, "w", ["g"])]
    assert [(d["t"], d["reason"]) for d in out["decisions"] if d.get("request") == "x" and d["action"] == "PENDING"
            ] == [(30, "PENDING_NO_CAPACITY")]
    assert [(d["t"], d["request"]) for d in out["decisions"] if d["reason"] == "ADMITTED_BY_TRANSFER"] == [
        (11, "a1"), (120, "y"), (120, "w")]
    assert out["final"]["requests"]["a1"]["state"] == "Admitted"


def test_the_guard_ends_when_the_reclaimers_side_owns_less():
    """T1's owned share drops from 2 to 1 (a new config version, D2): T1 now borrows with a1 and
    a2, and T2's owner b5 reclaims one of them — the owner is owed its share (P4)."""
    shrink = [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 1}},
              {"id": "T2", "parent": "root", "owned": {"u": 3}}]
    doc = {**RECLAIM_BACK, "events": [e for e in RECLAIM_BACK["events"] if e["t"] < 30] + [
        {"t": 30, "config": {"tree": shrink}},
        {"t": 40, "submit": [{"id": "b5", "leaf": "T2", "demand": {"u": 1}, "reclaim_grace": 0}]}]}
    out = run(doc)
    assert _reclaims(out)[:2] == [("a1", "b4"), ("a2", "b3")]
    assert [p for p, _ in _reclaims(out)[2:]] == ["b5"]
    assert _reclaims(out)[2][1] in ("a1", "a2")


def test_the_guard_is_kept_by_the_allocation_and_not_told_in_why():
    config = build_config(RECLAIM_BACK, 1, 0)
    state = initial_state(config, RECLAIM_BACK["running"])
    state = submit(state, [build_request({"id": "a1", "leaf": "T1", "demand": {"u": 1}, "reclaim_grace": 0}, 10)])
    state = decide(config, state, 10).state
    assert why(state, "a1")["state"] == "Reserved" and "reclaim_guard" not in why(state, "a1")
    state = decide(config, release(state, ["b4"], 11), 11).state
    assert state.allocations["a1"].reclaim_guard == (("T2", "T1", (2,)),)
    assert state.allocations["b1"].reclaim_guard == ()


def test_an_owner_reclaims_from_requests_that_won_their_place_by_fair_share():
    """Fair share leaves its winners' side borrowing: they keep no guard.  B's b1–b5 take five
    of A's units by fair share; when A wants its owned 10 back, it reclaims them (P4)."""
    out = run({
        "resources": ["u"], "capacity": {"u": 20}, "until": 40,
        "settings": {"fair_share_preemption": True},
        "tree": [{"id": "root"}, {"id": "A", "parent": "root", "owned": {"u": 10}},
                 {"id": "B", "parent": "root", "owned": {"u": 0}}, {"id": "X", "parent": "root", "owned": {"u": 10}}],
        "running": [{"id": "a1", "leaf": "A", "demand": {"u": 1}, "count": 20, "admitted_at": -100,
                     "reclaim_grace": 0}],
        "events": [{"t": 0, "submit": [{"id": "b1", "leaf": "B", "demand": {"u": 1}, "count": 5, "reclaim_grace": 0}]},
                   {"t": 10, "finish": [f"a{i}" for i in range(1, 21)]},
                   {"t": 11, "submit": [{"id": "x1", "leaf": "X", "demand": {"u": 1}, "count": 10}]},
                   {"t": 12, "submit": [{"id": "n1", "leaf": "A", "demand": {"u": 1}, "count": 10,
                                         "reclaim_grace": 0}]}],
    })
    assert sorted(v for p, v in _reclaims(out) if p.startswith("n")) == ["b1", "b2", "b3", "b4", "b5"]
    assert out["final"]["usage"]["A"] == {"u": 10}


def test_an_owner_takes_back_a_guarded_request_when_nothing_else_can_be_taken():
    """D's x and x2 (leaf L2) reclaim from V; the last victim is larger than needed, and z (L1,
    within L1's owned share) takes the room left, so D borrows V's owned share again — through
    z, which no class may take (L1 does not borrow).  V's owner w then takes x2 back, the
    decision saying so (``reclaimed_back``): P4 wins over P7 here, and x2 cannot reclaim again
    (D is at its owned share without it)."""
    out = run({
        "resources": ["u"], "capacity": {"u": 8}, "until": 60,
        "tree": [{"id": "root"}, {"id": "D", "parent": "root", "owned": {"u": 4}},
                 {"id": "L1", "parent": "D", "owned": {"u": 3}}, {"id": "L2", "parent": "D", "owned": {"u": 0}},
                 {"id": "V", "parent": "root", "owned": {"u": 4}}],
        "running": [{"id": "z0", "leaf": "L1", "demand": {"u": 1}, "admitted_at": -40, "reclaim_grace": 0},
                    {"id": "v1", "leaf": "V", "demand": {"u": 3}, "admitted_at": -30, "reclaim_grace": 0},
                    {"id": "v2", "leaf": "V", "demand": {"u": 2}, "admitted_at": -20, "reclaim_grace": 0},
                    {"id": "v3", "leaf": "V", "demand": {"u": 2}, "admitted_at": -10, "reclaim_grace": 0}],
        "events": [{"t": 10, "submit": [{"id": "x", "leaf": "L2", "demand": {"u": 2}, "reclaim_grace": 0}]},
                   {"t": 20, "submit": [{"id": "x2", "leaf": "L2", "demand": {"u": 1}, "reclaim_grace": 0}]},
                   {"t": 30, "submit": [{"id": "z", "leaf": "L1", "demand": {"u": 1}, "reclaim_grace": 0}]},
                   {"t": 40, "submit": [{"id": "w", "leaf": "V", "demand": {"u": 1}, "reclaim_grace": 0}]}],
    }, explain=True)
    back = [d for d in out["decisions"] if d["action"] == "EVICT" and d["preemptor"] == "w"]
    assert [(d["t"], d["victim"], d.get("reclaimed_back")) for d in back] == [(40, "x2", True)]
    assert "x2 had reclaimed from w's side" in back[0]["message"]
    assert [(d["t"], d["reason"]) for d in out["decisions"] if d.get("request") == "w" and d["action"] == "ADMIT"
            ] == [(41, "ADMITTED_BY_TRANSFER")]
    assert not any(d["action"] == "EVICT" and d["preemptor"] == "x2" and d["t"] > 40 for d in out["decisions"])
