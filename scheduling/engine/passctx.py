"""The mutable working copy of one pass (``PassCtx``).

Everything a pass changes lives here, never in the input State: copies of the request, status
and allocation maps, the two ledgers (``actual`` and the planning view ``sim``, see allocate.py),
the decisions emitted so far, and the per-pass caches.  ``version`` counts changes of the
planning view so that cached verdicts (equivalence classes) are never used across a change.
"""

from __future__ import annotations

from .explain import DEGRADED_CAPACITY, message
from .model import Decision, State
from .tree import Tree


class PassCtx:
    def __init__(self, tree: Tree, state: State, now: int, audit=None):
        self.audit = audit  # test hook: called with every plan before it is committed
        self.tree = tree
        self.config = tree.config
        self.settings = tree.config.settings
        self.now = now
        self.requests = dict(state.requests)
        self.status = dict(state.status)
        self.allocations = dict(state.allocations)
        self.plan_seq = state.plan_seq
        self.decisions: list[Decision] = []
        self.modifiers = (DEGRADED_CAPACITY,) if tree.degraded else ()
        self.fs_history = list(state.fs_history)
        self.vecs: dict[str, list[int]] = {}
        self.pending_touched: set[str] = set()
        # Equivalence classes (K KEP-9694): requests of one leaf with the same shape get the same
        # verdict while the planning view is unchanged; ``version`` counts its changes.
        self.version = 0
        self.memo: dict[tuple, tuple] = {}
        self.dry = False  # set during the settling sweep: any progress raises WouldProgress
        self.victim_index: dict = {}  # victims.py: per-leaf candidate order and orphans, per pass
        self.by_leaf: dict[int, list[str]] = {}
        reqs = self.requests
        for aid in sorted(self.allocations, key=lambda a: reqs[a].order[2]):  # cached natural id order
            self.by_leaf.setdefault(tree.index[self.allocations[aid].leaf], []).append(aid)
        window = self.settings.fs_budget_window
        self.fs_used = [0] * tree.R
        for t, amounts in self.fs_history:
            if t > now - window:
                for r, q in amounts:
                    if r in tree.rindex:
                        self.fs_used[tree.rindex[r]] += q
        b = self.settings.fs_budget
        self.fs_budget = None if b is None else [
            int(b * tree.owned[tree.root][r]) for r in range(tree.R)]

    def vec(self, rid: str) -> list[int]:
        v = self.vecs.get(rid)
        if v is None:
            v = self.vecs[rid] = self.tree.vec(self.requests[rid].demand)
        return v

    def times_preempted(self, rid: str) -> int:
        st = self.status.get(rid)
        return st.times_preempted if st else 0

    def emit(self, action: str, reason: str, *, request=None, victim=None, preemptor=None, facts=None) -> None:
        facts = facts or {}
        self.decisions.append(Decision(
            time=self.now, action=action, reason=str(reason), request=request, victim=victim, preemptor=preemptor,
            facts=facts, modifiers=self.modifiers, message=message(action, reason, request, facts)))


class WouldProgress(Exception):
    """Raised in a dry sweep where a real pass would admit, reserve or evict."""
