"""Reservation transfers (P5, P5b) and plan-or-nothing (P10) across passes: a preemptor whose
victims were evicted is admitted on the room they free, even when its plan also counted on
other plans' victims, and only a change of the world under its plan (capacity, config) sends it
back to planning."""

from __future__ import annotations

from scheduling.engine.simulate import run


def _decisions(out: dict, action: str, request: str) -> list[dict]:
    return [d for d in out["decisions"] if d["action"] == action and d.get("request") == request]


TRANSFER_SHORT = {
    "resources": ["u"], "capacity": {"u": 8}, "until": 130,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 4}},
             {"id": "T2", "parent": "root", "owned": {"u": 2}}, {"id": "T3", "parent": "root", "owned": {"u": 2}}],
    "running": [{"id": "a0", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10},
                {"id": "g", "leaf": "T2", "demand": {"u": 5}, "admitted_at": -10, "reclaim_grace": 100},
                {"id": "h1", "leaf": "T3", "demand": {"u": 1}, "admitted_at": -10, "reclaim_grace": 0},
                {"id": "h2", "leaf": "T3", "demand": {"u": 1}, "admitted_at": -9, "reclaim_grace": 0}],
    "events": [{"t": 10, "submit": [{"id": "a1", "leaf": "T1", "demand": {"u": 1}},
                                    {"id": "x", "leaf": "T3", "demand": {"u": 5}, "priority": 100}]},
               {"t": 11, "submit": [{"id": "a2", "leaf": "T1", "demand": {"u": 2}}]}],
}


def test_a_preemptor_whose_plan_counted_on_another_plans_victims_waits_for_them_too():
    """P5b, P10.  At t=10 a1 reclaims the whole gang g (5u for 1u: 4u spare in the planning view,
    free only when g leaves at t=110); x evicts h2 (P-W) and counts on that spare as well, so its
    reservation waits for g and h2, g first as its plan came first.  At t=11 h2 is gone but x
    keeps its reservation: a2 finds no room to take.  When g leaves, a1 and then x are admitted."""
    out = run(TRANSFER_SHORT)
    evicted_for_x = [d["victim"] for d in out["decisions"] if d["action"] == "EVICT" and d["preemptor"] == "x"]
    assert evicted_for_x == ["h2"]
    assert [(d["t"], d["victims"]) for d in _decisions(out, "RESERVE", "x")] == [(10, ["g", "h2"])]
    assert _decisions(out, "PENDING", "x") == []
    assert [d["t"] for d in out["decisions"] if d.get("request") == "a2" and d["action"] in ("ADMIT", "RESERVE")
            ] == [110]  # a2 gets nothing while x holds the room; at t=110 it reclaims x (T3 borrows)
    assert [(d["t"], d["request"]) for d in out["decisions"] if d["reason"] == "ADMITTED_BY_TRANSFER"] == [
        (110, "a1"), (110, "x")]


TAKEN_MEANWHILE = {
    "resources": ["u"], "capacity": {"u": 10}, "until": 120,
    "tree": [{"id": "root"}, {"id": "A", "parent": "root", "owned": {"u": 2}},
             {"id": "T1", "parent": "root", "owned": {"u": 4}}, {"id": "T2", "parent": "root", "owned": {"u": 2}},
             {"id": "O", "parent": "root", "owned": {"u": 2}}],
    "running": [{"id": "g", "leaf": "T2", "demand": {"u": 5}, "admitted_at": -10, "reclaim_grace": 100},
                {"id": "v", "leaf": "A", "demand": {"u": 1}, "admitted_at": -10, "reclaim_grace": 5},
                {"id": "o", "leaf": "O", "demand": {"u": 2}, "admitted_at": -10}],
    "events": [{"t": 10, "submit": [{"id": "p", "leaf": "A", "demand": {"u": 3}, "priority": 100}]},
               {"t": 11, "submit": [{"id": "p1", "leaf": "T1", "demand": {"u": 1}}]},
               {"t": 12, "submit": [{"id": "q", "leaf": "O", "demand": {"u": 2}}]},
               {"t": 15, "submit": [{"id": "c", "leaf": "T1", "demand": {"u": 3}}]}],
}


def test_a_reservation_short_at_its_transfer_waits_for_more_victims_instead_of_being_dropped():
    """P10.  p evicts v (P-W) counting on 2u that are free; p1 then reclaims the gang g, whose
    spare the planning view counts as free, and on the strength of it q is admitted into those
    2u.  When v is gone (t=15) p does not fit physically until g leaves: it keeps its place and
    waits for g too — dropped, it would lose the room to c (T1, within owned, judged first) and v
    would have been evicted for nothing.  c reclaims q, the borrower, instead."""
    out = run(TAKEN_MEANWHILE)
    assert [d["victim"] for d in out["decisions"] if d["action"] == "EVICT" and d["preemptor"] == "p"] == ["v"]
    assert [(d["t"], d["victims"]) for d in _decisions(out, "RESERVE", "p")] == [(10, ["v"]), (15, ["g"])]
    assert _decisions(out, "PENDING", "p") == []
    assert [(d["t"], d["reason"]) for d in _decisions(out, "ADMIT", "p")] == [(111, "ADMITTED_BY_TRANSFER")]
    assert [d["victim"] for d in out["decisions"] if d["action"] == "EVICT" and d["preemptor"] == "c"] == ["q"]


def test_a_reservation_the_capacity_no_longer_holds_is_planned_again():
    """The world changed under the plan (D1: capacity drops below the preemptor's demand): when
    its victim is gone the reservation goes, and the request waits with an ordinary reason."""
    out = run({
        "resources": ["u"], "capacity": {"u": 4}, "until": 20,
        "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 2}},
                 {"id": "T2", "parent": "root", "owned": {"u": 2}}],
        "running": [{"id": "b", "leaf": "T2", "demand": {"u": 4}, "admitted_at": -10, "reclaim_grace": 5}],
        "events": [{"t": 10, "submit": [{"id": "a", "leaf": "T1", "demand": {"u": 2}}]},
                   {"t": 12, "capacity": {"u": 1}}],
    })
    assert [(d["t"], d["victims"]) for d in _decisions(out, "RESERVE", "a")] == [(10, ["b"])]
    assert [(d["t"], d["reason"]) for d in _decisions(out, "PENDING", "a")] == [(15, "PENDING_NO_CAPACITY")]
    assert out["final"]["requests"]["a"]["state"] == "Pending"
