"""The persisted engine state keeps what the A4c gates and the D2 clock need across passes."""

from __future__ import annotations

import json

from scheduling import snapshot as snap
from scheduling.engine import clear_gates, decide, submit
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
