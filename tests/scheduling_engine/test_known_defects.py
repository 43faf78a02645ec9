"""Minimal reproductions of the engine defects in known_defects.py, as strict xfail tests.

Each asserts the property the specification states.  Until the engine is fixed it fails, as
expected; once fixed it passes, which fails the run (strict): then remove its xfail mark and the
matching waiver in known_defects.py.
"""

from __future__ import annotations

import pytest

from scheduling.engine.simulate import run

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
