"""Engine defects that the property tests found and the engine does not fix yet.

Each defect has a signature, and the stream checks skip only the passes that match it,
counting them (``hypothesis.event``, ``--hypothesis-show-statistics``).  Everything else in
those passes is still checked.  Each one is also reproduced by a strict xfail test in
test_known_defects.py: when the engine is fixed that test passes, which fails the run,
and then the reproduction becomes an ordinary test and the waiver here goes.

* RECLAIM_BACK (P7, H1 against the candidate order of §10.7): H1 argues that once q reclaimed
  from v's side, q's side is within owned, so v's side can never reclaim q back.  But q's side
  may grow again afterwards (a later admission by borrowing, or a later reservation in the
  planning view); v's side may then reclaim from it, and the candidate order — priority
  ascending before newest admission — can pick q rather than the newcomer.
"""

from __future__ import annotations

from scheduling.engine.model import Config, State
from scheduling.engine.tree import compile_tree


def reclaim_back(config: Config, before: State, after: State, q: str, reclaimer: str) -> bool:
    """RECLAIM_BACK: ``reclaimer`` reclaims ``q`` back, and q's side (the child of their lowest
    common ancestor towards q) holds, before or after the pass, an allocation admitted after q
    or a reservation."""
    tree = compile_tree(config, before.capacity)
    leaf_q = tree.index[before.requests[q].leaf]
    lca = tree.lca(leaf_q, tree.index[before.requests[reclaimer].leaf])
    side = tree.child_towards(lca, leaf_q)

    def below(state: State, rid: str) -> bool:
        return side in tree.path[tree.index[state.requests[rid].leaf]]

    since = before.allocations[q].admitted_at
    return any(
        any(a.admitted_at > since and below(state, rid) for rid, a in state.allocations.items())
        or any(st.state == "Reserved" and below(state, rid) for rid, st in state.status.items())
        for state in (before, after))
