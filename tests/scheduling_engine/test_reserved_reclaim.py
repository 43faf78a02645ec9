"""Owners take back what a reservation that evicted nothing holds of their share
(reserved_reclaim.py): only as much as they need, and only when they are then admitted or
reserved at once — never a hand-back that a gate would make futile, which would go round forever
(the reservation taking the room again in the same pass)."""

from __future__ import annotations

from scheduling.engine import clear_gates, decide, finish, set_capacity, submit
from scheduling.engine.simulate import build_config, build_request, initial_state, run


def _of(out: dict, request: str) -> list[tuple[int, str, str]]:
    return [(d["t"], d["action"], d["reason"]) for d in out["decisions"] if d.get("request") == request]


# g (9u, grace 100) is evicted whole for y (1u): its spare 8u is shared by x1 (4u) and x2 (1u) of
# T1, which borrow in the planning view.
SPARE = {
    "resources": ["u"], "capacity": {"u": 10}, "until": 21,
    "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 1}},
             {"id": "T2", "parent": "root", "owned": {"u": 1}}, {"id": "O", "parent": "root", "owned": {"u": 5}},
             {"id": "P", "parent": "root", "owned": {"u": 3}}],
    "running": [{"id": "g", "leaf": "T2", "demand": {"u": 9}, "admitted_at": -10, "reclaim_grace": 100},
                {"id": "t1", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10, "preemptible": False}],
    "events": [{"t": 10, "submit": [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]},
               {"t": 11, "submit": [{"id": "x1", "leaf": "T1", "demand": {"u": 4}}]},
               {"t": 12, "submit": [{"id": "x2", "leaf": "T1", "demand": {"u": 1}}]},
               {"t": 20, "submit": [{"id": "q", "leaf": "O", "demand": {"u": 5}}]}],
}


def test_an_owner_takes_back_only_the_reservations_it_needs():
    """q (O, 5u within its owned 5) needs 5u of the 8u spare: x2 is the newest reservation, but
    handing back x1 alone makes room, so x2 keeps its place."""
    out = run(SPARE)
    assert _of(out, "q") == [(20, "RESERVE", "PENDING_WAITING_FOR_VICTIMS")]
    assert _of(out, "x1") == [(11, "RESERVE", "PENDING_WAITING_FOR_VICTIMS"), (20, "PENDING", "PENDING_NO_CAPACITY")]
    assert _of(out, "x2") == [(12, "RESERVE", "PENDING_WAITING_FOR_VICTIMS")]
    assert out["final"]["evictions"] == 1


def test_a_handed_back_reservation_says_which_owner_took_its_capacity():
    """x1 was Reserved; at t=20 it waits again, and its PENDING tells its tenant why: the
    capacity went back to q, whose tenant owns it (facts ``handed_back_to``, the message's last
    sentence).  The reservation x2 kept, and a later pass with nothing handed back, say nothing of it."""
    config = build_config(SPARE, 1, 0)
    state = initial_state(config, SPARE["running"])
    for event in SPARE["events"]:
        state = submit(state, [build_request(d, event["t"]) for d in event["submit"]])
        plan = decide(config, state, event["t"])
        state = plan.state
    (x1,) = [d for d in plan.decisions if d.request == "x1"]
    assert (x1.action, x1.reason, x1.facts["handed_back_to"]) == ("PENDING", "PENDING_NO_CAPACITY", "q")
    assert x1.message == ("x1 waits: the cluster has 2 u free (8 used of 10); it needs 4. "
                          "It gave the capacity reserved for it back to q, whose tenant owns it.")
    assert [d.request for d in plan.decisions if "handed_back_to" in d.facts] == ["x1"]
    assert decide(config, state, 21).decisions == ()


def _gated_owner(q: dict, *, lendout_grace=None) -> dict:
    """x (T1) shares g's spare; q's own leaf L1 owns nothing, its parent D does: q has an owned
    reclaim advantage at D but borrows at L1, where a gate may refuse it."""
    d = {"id": "D", "parent": "root", "owned": {"u": 6}}
    if lendout_grace is not None:
        d["lendout_grace"] = lendout_grace
    return {
        "resources": ["u"], "capacity": {"u": 10}, "until": 22,
        "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 1}},
                 {"id": "T2", "parent": "root", "owned": {"u": 3}}, d,
                 {"id": "L1", "parent": "D", "owned": {"u": 0}}, {"id": "L2", "parent": "D", "owned": {"u": 6}}],
        "running": [{"id": "g", "leaf": "T2", "demand": {"u": 4}, "admitted_at": -10, "reclaim_grace": 100},
                    {"id": "t1", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10, "preemptible": False},
                    {"id": "f", "leaf": "L2", "demand": {"u": 5}, "admitted_at": -10}],
        "events": [{"t": 10, "submit": [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]},
                   {"t": 11, "submit": [{"id": "x", "leaf": "T1", "demand": {"u": 2}, "reclaim_grace": 0}]},
                   {"t": 20, "submit": [q]}],
    }


def test_no_hand_back_for_an_owner_a_gate_would_refuse_and_the_pass_ends():
    """A non-preemptible q (A4b) or one whose grace exceeds its lender's promise (A4a) would not
    be admitted on the room: x keeps its reservation and q waits with its own reason."""
    for q, grace, reason in (
            ({"id": "q", "leaf": "L1", "demand": {"u": 1}, "preemptible": False}, None,
             "PENDING_NON_PREEMPTIBLE_NEEDS_OWNED"),
            ({"id": "q", "leaf": "L1", "demand": {"u": 1}, "reclaim_grace": 30}, 5, None)):
        out = run(_gated_owner(q, lendout_grace=grace))
        assert _of(out, "x") == [(11, "RESERVE", "PENDING_WAITING_FOR_VICTIMS")]
        assert [a for _, a, _ in _of(out, "q")] == ["PENDING"]
        if reason:
            assert _of(out, "q")[0][2] == reason


def test_an_owner_takes_back_as_many_reservations_as_put_it_within_owned():
    """q (X, 4u, within X's and A's owned 4) shares a gang's spare with r1–r3 (Y, A's other
    child, owning nothing): handing back r3 alone lets it fit, but borrowing at A; it takes back
    r3 and r2 and is admitted when the gang leaves (t=110), within its P4 bound (20 + 1 + 100 +
    10), not after the reservations are admitted and reclaimed."""
    out = run({
        "resources": ["u"], "capacity": {"u": 10}, "until": 140,
        "tree": [{"id": "root"}, {"id": "T2", "parent": "root", "owned": {"u": 1}},
                 {"id": "A", "parent": "root", "owned": {"u": 4}}, {"id": "Z", "parent": "root", "owned": {"u": 5}},
                 {"id": "X", "parent": "A", "owned": {"u": 4}}, {"id": "Y", "parent": "A", "owned": {"u": 0}}],
        "running": [{"id": "g", "leaf": "T2", "demand": {"u": 9}, "admitted_at": -10, "reclaim_grace": 100},
                    {"id": "t1", "leaf": "Z", "demand": {"u": 1}, "admitted_at": -10, "preemptible": False}],
        "events": [{"t": 10, "submit": [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]},
                   {"t": 11, "submit": [{"id": "r1", "leaf": "Y", "demand": {"u": 2}}]},
                   {"t": 12, "submit": [{"id": "r2", "leaf": "Y", "demand": {"u": 2}}]},
                   {"t": 13, "submit": [{"id": "r3", "leaf": "Y", "demand": {"u": 2}}]},
                   {"t": 20, "submit": [{"id": "q", "leaf": "X", "demand": {"u": 4}}]}],
    })
    assert _of(out, "q") == [(20, "RESERVE", "PENDING_WAITING_FOR_VICTIMS"), (110, "ADMIT", "ADMITTED_BY_TRANSFER")]
    assert out["final"]["evictions"] == 1  # the gang, for y


def test_a_second_pass_after_a_hand_back_decides_nothing():
    """P13.  x2 shares h, an orphan (its preemptor z withdrew); handed back to the owner q, it
    leaves h to nobody, and the planning view counts h again at once — as the next pass will."""
    doc = {"resources": ["u"], "capacity": {"u": 10},
           "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 1}},
                    {"id": "T2", "parent": "root", "owned": {"u": 1}},
                    {"id": "M", "parent": "root", "owned": {"u": 1}, "max": {"u": 4}},
                    {"id": "T3", "parent": "M", "owned": {"u": 1}}, {"id": "T4", "parent": "M", "owned": {"u": 0}},
                    {"id": "O", "parent": "root", "owned": {"u": 5}}]}
    running = [{"id": "g", "leaf": "T2", "demand": {"u": 6}, "admitted_at": -10, "reclaim_grace": 100},
               {"id": "h", "leaf": "T3", "demand": {"u": 3}, "admitted_at": -10, "reclaim_grace": 100},
               {"id": "t1", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10, "preemptible": False}]
    config = build_config(doc, 1, 0)
    state = initial_state(config, running)
    for t, items in [(9, [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]),
                     (10, [{"id": "x1", "leaf": "T1", "demand": {"u": 5}}]),
                     (11, [{"id": "z", "leaf": "T3", "demand": {"u": 1}, "priority": 100}]),
                     (12, [{"id": "x2", "leaf": "T4", "demand": {"u": 2}}]),
                     (15, [{"id": "k", "leaf": "T3", "demand": {"u": 4}, "priority": 100}]),
                     (20, [{"id": "q", "leaf": "O", "demand": {"u": 3}}])]:
        if t == 15:
            state = finish(state, ["z"])
        state = decide(config, submit(state, [build_request(d, t) for d in items]), t).state
    assert state.status["q"].state == "Reserved" and state.status["x2"].state == "Pending"
    assert decide(config, state, 20).decisions == ()


def test_a_reservation_handed_back_during_the_transfers_is_not_transferred():
    """A gated owner G whose checks clear is judged among the transfers and takes back x2's
    reservation; the transfers then pass x2 by (it is no longer Reserved) instead of charging
    it twice or giving it victims as a Pending request."""
    doc = {"resources": ["u"], "capacity": {"u": 10},
           "tree": [{"id": "root"}, {"id": "T1", "parent": "root", "owned": {"u": 1}},
                    {"id": "T2", "parent": "root", "owned": {"u": 1}},
                    {"id": "O", "parent": "root", "owned": {"u": 5}}]}
    running = [{"id": "g", "leaf": "T2", "demand": {"u": 9}, "admitted_at": -10, "reclaim_grace": 100},
               {"id": "t1", "leaf": "T1", "demand": {"u": 1}, "admitted_at": -10, "preemptible": False}]
    config = build_config(doc, 1, 0)
    state = initial_state(config, running)
    for t, items in [(10, [{"id": "y", "leaf": "T2", "demand": {"u": 1}, "priority": 100}]),
                     (11, [{"id": "G", "leaf": "O", "demand": {"u": 2}, "gates": ["chk"]}]),
                     (12, [{"id": "x1", "leaf": "T1", "demand": {"u": 4}}]),
                     (13, [{"id": "x2", "leaf": "T1", "demand": {"u": 2}}])]:
        state = decide(config, submit(state, [build_request(d, t) for d in items]), t).state
    plan = decide(config, clear_gates(set_capacity(state, {"u": 9}), ["G"]), 20)
    assert [(d.action, d.request) for d in plan.decisions if d.request == "x2"] == [("PENDING", "x2")]
    assert plan.state.status["x2"].victims == () and plan.state.status["G"].state == "Reserved"
    assert decide(config, plan.state, 20).decisions == ()
