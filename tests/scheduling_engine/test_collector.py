"""The engine pauses the cyclic garbage collector during a pass (engine.collector_paused); the
process around it must still get its cyclic garbage collected — a scheduling worker runs a pass
every second for months."""

from __future__ import annotations

import gc
import weakref

from scheduling.engine import decide, submit
from scheduling.engine.model import Config, Node, Request, State


class _Cyclic:
    def __init__(self):
        self.me = self


def test_cyclic_garbage_made_between_passes_is_still_collected():
    config = Config(version=1, resources=("u",), capacity={"u": 4},
                    nodes=(Node(id="root"), Node(id="T1", parent="root", owned={"u": 4})))
    state = decide(config, submit(State(), [Request(id="a", leaf="T1", demand={"u": 1})]), 0).state
    assert gc.isenabled()
    garbage = _Cyclic()
    gone = weakref.ref(garbage)
    del garbage  # unreachable now, but only the cyclic collector can free it
    for t in range(1, 200):
        state = decide(config, state, t).state
        [{"n": i} for i in range(1_000)]  # what a worker allocates between passes (containers)
    assert gc.isenabled()
    assert gone() is None, "a cycle made between passes survived 200 passes: the collector never ran on it"
