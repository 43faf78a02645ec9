"""The persisted engine state keeps what the A4c gates and the D2 clock need across passes."""

from __future__ import annotations

import json

from scheduling import snapshot as snap
from scheduling.engine import clear_gates, decide, release, submit
from scheduling.engine.model import Config, Node, Request, State


def test_a_gate_reservation_and_a_quota_clock_survive_the_json_round_trip():
    nodes = (Node(id="root"), Node(id="T1", parent="root", owned={"u": 4}, max={"u": 4}, quota_preemption_delay=60),
             Node(id="T2", parent="root", owned={"u": 4}))
    config = Config(version=1, resources=("u",), capacity={"u": 8}, nodes=nodes)
    state = decide(config, submit(State(), [Request(id="g", leaf="T2", demand={"u": 2}, gates=("budget",))]), 0).state
    state = State(requests=state.requests, status=state.status, allocations=state.allocations,
                  over_max_since=(("T1", 7),), plan_seq=state.plan_seq)
    loaded = snap.state_from_json(json.loads(json.dumps(snap.state_to_json(state))))
    assert loaded.over_max_since == (("T1", 7),)
    assert loaded.status["g"].state == "Reserved" and loaded.status["g"].reason == "PENDING_GATES"
    assert loaded.requests["g"].gates == ("budget",)
    # the loaded state behaves as the original: the reservation holds, then admits on clearing
    assert decide(config, loaded, 1).decisions == ()
    plan = decide(config, clear_gates(loaded, ["g"]), 2)
    assert [(d.action, d.reason) for d in plan.decisions] == [("ADMIT", "ADMITTED_WITHIN_OWNED")]


def test_a_reclaim_guard_and_a_reservations_released_victims_survive_the_json_round_trip():
    """What keeps an owner's side from reclaiming back (Allocation.reclaim_guard) and which
    victims of a reservation are gone (its fact ``released``) are read back as they were."""
    nodes = (Node(id="root"), Node(id="T1", parent="root", owned={"u": 2}),
             Node(id="T2", parent="root", owned={"u": 2}))
    config = Config(version=1, resources=("u",), capacity={"u": 4}, nodes=nodes)
    running = [Request(id=f"b{i}", leaf="T2", demand={"u": 1}, created_at=0, reclaim_grace=60) for i in range(4)]
    state = decide(config, submit(State(), running), 0).state
    state = decide(config, submit(state, [Request(id="a1", leaf="T1", demand={"u": 2}, created_at=10)]), 10).state
    victims = state.status["a1"].victims
    state = decide(config, release(state, [victims[0]], 11), 11).state
    loaded = snap.state_from_json(json.loads(json.dumps(snap.state_to_json(state))))
    assert loaded.status["a1"] == state.status["a1"] and dict(loaded.status["a1"].detail)["released"] == victims[:1]
    state = decide(config, release(loaded, [victims[1]], 12), 12).state
    assert state.allocations["a1"].reclaim_guard == (("T2", "T1", (2,)),)
    loaded = snap.state_from_json(json.loads(json.dumps(snap.state_to_json(state))))
    assert loaded.allocations == state.allocations
