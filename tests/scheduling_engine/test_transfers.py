"""Reservation transfers (P5, P5b) and plan-or-nothing (P10) across passes: a preemptor whose
victims were evicted is admitted on the room they free, even when its plan also counted on
other plans' victims, and only a change of the world under its plan (capacity, config) sends it
back to planning."""

from __future__ import annotations

from scheduling.engine import decide, release, submit
from scheduling.engine.explain import why
from scheduling.engine.model import Allocation, Request, State, Status
from scheduling.engine.simulate import build_config, build_request, initial_state, run


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


EVICTED_AGAIN = {
    "resources": ["u"], "capacity": {"u": 8}, "until": 60,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 4}},
             {"id": "T2", "parent": "root", "owned": {"u": 4}}],
    "running": [{"id": "w", "leaf": "T1", "demand": {"u": 2}, "admitted_at": -10, "preemptible": False},
                {"id": "v1", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10, "reclaim_grace": 100},
                {"id": "v2", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -9, "reclaim_grace": 30},
                {"id": "b1", "leaf": "T2", "demand": {"u": 2}, "admitted_at": -10},
                {"id": "b2", "leaf": "T2", "demand": {"u": 2}, "admitted_at": -10}],
    "events": [{"t": 10, "submit": [{"id": "p", "leaf": "T1", "demand": {"u": 2}, "priority": 50}]},
               {"t": 12, "release": ["v1"]},
               {"t": 16, "finish": ["b1"]},
               {"t": 17, "submit": [{"id": "z", "leaf": "T2", "demand": {"u": 2}}]}],
}


def test_a_victim_released_and_evicted_again_for_another_plan_is_not_waited_for_twice():
    """P10.  p evicts v1 and v2 (P-W).  v1's pods are gone at t=12; requeued, v1 is admitted
    again (borrowing) at t=16 and reclaimed for z at t=17, with a 100 s grace.  Victims are named
    by request id, but that new Terminating allocation is z's business: p is admitted when v2
    leaves (t=40), not when v1 leaves a second time (t=117)."""
    out = run(EVICTED_AGAIN)
    assert [d["victim"] for d in out["decisions"] if d["action"] == "EVICT"] == ["v2", "v1", "v1"]
    assert [(d["t"], d["reason"]) for d in _decisions(out, "ADMIT", "p")] == [(40, "ADMITTED_BY_TRANSFER")]
    assert _decisions(out, "PENDING", "p") == []


def test_a_reservation_notes_which_of_its_victims_are_gone():
    """The why of a reservation names its victims and, once some are gone, which of them
    (``released``): the operator sees what it still waits for."""
    config = build_config(EVICTED_AGAIN, 1, 0)
    state = initial_state(config, EVICTED_AGAIN["running"])
    state = submit(state, [build_request({"id": "p", "leaf": "T1", "demand": {"u": 2}, "priority": 50}, 10)])
    state = decide(config, state, 10).state
    assert why(state, "p")["victims"] == ["v2", "v1"] and "released" not in why(state, "p")
    state = decide(config, release(state, ["v1"], 12), 12).state
    assert why(state, "p")["state"] == "Reserved" and why(state, "p")["released"] == ("v1",)


ORPHAN_SHARED = {
    "resources": ["u"], "capacity": {"u": 10}, "until": 120,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 4}},
             {"id": "T2", "parent": "root", "owned": {"u": 4}},
             {"id": "T3", "parent": "root", "owned": {"u": 2}, "borrow_limit": {"u": 0}}],
    "running": [{"id": "a0", "leaf": "T1", "demand": {"u": 3}, "admitted_at": -10},
                {"id": "g", "leaf": "T2", "demand": {"u": 5}, "admitted_at": -10, "reclaim_grace": 100},
                {"id": "h", "leaf": "T3", "demand": {"u": 2}, "admitted_at": -10, "reclaim_grace": 50}],
    "events": [{"t": 10, "submit": [{"id": "a1", "leaf": "T1", "demand": {"u": 1}}]},
               {"t": 11, "submit": [{"id": "x", "leaf": "T2", "demand": {"u": 2}}]},
               {"t": 12, "finish": ["a1"]},
               {"t": 13, "submit": [{"id": "y", "leaf": "T3", "demand": {"u": 2}, "priority": 100}]},
               {"t": 14, "submit": [{"id": "s", "leaf": "T2", "demand": {"u": 2}}]}],
}


def test_a_shared_reservation_waits_for_the_victims_whose_room_is_not_promised_first():
    """P5b.  a1 reclaims the whole gang g (5u for 1u) and x shares g's spare; a1 then finishes,
    so g's room goes to x first.  y evicts h.  s fits in the planning view on g's spare: it must
    wait for g (its room comes after x's 2u) and not for h, whose room y takes first — listed
    behind h, s would find no room when h leaves and have to wait again."""
    out = run(ORPHAN_SHARED)
    assert [(d["t"], d["victims"]) for d in _decisions(out, "RESERVE", "s")] == [(14, ["g"])]
    assert [(d["t"], d["request"]) for d in out["decisions"] if d["reason"] == "ADMITTED_BY_TRANSFER"] == [
        (63, "y"), (110, "x"), (110, "s")]
    assert [d["victim"] for d in out["decisions"] if d["action"] == "EVICT"] == ["g", "h"]


def test_a_reservation_short_at_its_transfer_waits_for_an_orphan_rather_than_plan_again():
    """P10.  r's victim is gone, but r does not fit: o, a victim whose preemptor went away, still
    holds 2u (counted in the planning view again, which is therefore short as well — no change
    of capacity or config).  r keeps its place and waits for o, evicting nothing more; it is
    admitted when o leaves."""
    config = build_config({"resources": ["u"], "capacity": {"u": 4},
                           "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 2}},
                                    {"id": "T2", "parent": "root", "owned": {"u": 2}}]}, 1, 0)
    requests = {"a": Request("a", "T1", {"u": 1}, created_at=0), "o": Request("o", "T2", {"u": 2}, created_at=0),
                "r": Request("r", "T1", {"u": 2}, created_at=5)}
    state = State(requests=requests,
                  status={"a": Status("Admitted", "ADMITTED_WITHIN_OWNED"),
                          "o": Status("Admitted", "ADMITTED_BORROWING"),
                          "r": Status("Reserved", "PENDING_WAITING_FOR_VICTIMS", pending_since=5, victims=("v",),
                                      plan_seq=1)},
                  allocations={"a": Allocation("a", "T1", {"u": 1}, 0),
                               "o": Allocation("o", "T2", {"u": 2}, 0, terminating=True, victim_of="gone",
                                               deadline=30)},
                  plan_seq=1)
    plan = decide(config, state, 10)
    assert [(d.action, d.request, d.facts.get("victims")) for d in plan.decisions] == [("RESERVE", "r", ["o"])]
    assert decide(config, plan.state, 10).decisions == ()
    after = decide(config, release(plan.state, ["o"], 20), 20)
    assert [(d.action, d.request, d.reason) for d in after.decisions if d.request == "r"] == [
        ("ADMIT", "r", "ADMITTED_BY_TRANSFER")]
