"""The mutable working copy of one pass (``PassCtx``).

Everything a pass changes lives here, never in the input State: copies of the request, status
and allocation maps, the two ledgers (``actual`` and the planning view ``sim``, see allocate.py),
the decisions emitted so far, and the per-pass caches.  ``version`` counts changes of the
planning view so that cached verdicts (equivalence classes) are never used across a change.
"""

from __future__ import annotations

from dataclasses import replace
from operator import itemgetter

from .explain import DEGRADED_CAPACITY
from .model import Allocation, Decision, State, id_key
from .tree import INF, Tree
from .wording import message


class PassCtx:
    def __init__(self, tree: Tree, state: State, now: int, audit=None, *, share_allocations: bool = False):
        self.audit = audit  # test hook: called with every plan before it is committed
        self.tree = tree
        self.config = tree.config
        self.settings = tree.config.settings
        self.now = now
        self.requests = state.requests  # a pass never changes requests: shared, not copied
        self.status = dict(state.status)
        # An incremental pass changes no allocation (it gives up before any admission).
        self.allocations = state.allocations if share_allocations else dict(state.allocations)
        # True while ``sim`` holds exactly what ``actual`` does (no reservation in the state and no
        # plan or shared reservation made in this pass); then a fit in one is a fit in the other.
        self.sim_is_actual = True
        self.time_free = True  # False once a verdict may change with time alone (incremental.py)
        self.plan_seq = state.plan_seq
        self.decisions: list[Decision] = []
        self.modifiers = (DEGRADED_CAPACITY,) if tree.degraded else ()
        self.fs_history = list(state.fs_history)
        self.vecs: dict[str, list[int]] = {}
        # Requests whose status a pass changed to Pending, with their status before the first change.
        self.touched_from: dict = {}
        # Equivalence classes (K KEP-9694): requests of one leaf with the same shape get the same
        # verdict while the planning view is unchanged; ``version`` counts its changes.
        self.version = 0
        self.memo: dict[tuple, tuple] = {}
        self.fit_memo: dict[tuple, list] = {}  # (version, leaf, shape) → [fit result, binding]
        self.available_memo: dict[tuple, int] = {}  # (version, leaf, resource) → Ledger.available
        self.bindings: dict[tuple, object] = {}  # evaluate._binding: one Binding per distinct value
        self.admitted: dict[tuple, object] = {}  # evaluate.record_admission: one Status per distinct value
        self.pending_statuses: dict[tuple, tuple] = {}  # evaluate._pending: (binding, Status) per distinct value
        self.root_refusals: dict[tuple, list | None] = {}  # (version, shape) → evaluate._root_refusal's entry
        self.key_cache: dict[tuple, tuple] = {}  # tournament key prefixes, valid at key_version
        self.key_version = 0
        self._canon: dict[tuple, list[int]] = {}  # a shape → its one vector
        self._by_items: dict[tuple, list[int]] = {}  # a demand mapping's items → its interned vector
        self.nonzero: dict[int, list] = {}  # id of an interned vector → its (resource, amount > 0) pairs
        self.judged: dict[str, int] = {}  # request → version at which it was last judged Pending
        self.dry = False  # set during the settling sweep: any progress raises WouldProgress
        self.reserved_at_start: list[tuple[int, str]] = []  # (plan_seq, request) of the Reserved, by _build_ledgers
        self.settled = -1  # the version at which a tournament's tail sweep found nothing to progress
        self.opening = False  # the sweep before the first tournament: planning counts as progress
        # Gate reservations (gates.py): handed back in this pass → their plan_seq; first taken in
        # this pass, in order; borrowing ones taken since the last ``gates.retake``.
        self.gate_held: dict[str, int] = {}
        self.gate_new: list[str] = []
        self.gate_borrowed: list[str] = []
        self.victim_index: dict = {}  # victims.py and victim_*.py: leaf orders, orphans, node views, per pass
        # The terminating allocations, gathered by the expiry scan at the start of a full pass
        # (allocate._expire) and kept up to date by ``evict``; None where nothing gathered them.
        # The first plan of a pass then lists the orphans without scanning every allocation (B4).
        self.terminating: list[str] | None = None
        self._by_leaf: dict[int, list[str]] | None = None
        self._leaving: _LeavingOrder | None = None  # excluded_in_plan_order, between calls
        # The victims this pass counts as leaving (set by allocate._build_ledgers and the plans
        # made in the pass), each with the lowest plan_seq of the reservations waiting for it.
        self.excluded: set[str] = set()
        self.waited_by: dict[str, int] = {}
        # Reservations that evicted nothing (reserved_reclaim.py), as found or made in the pass;
        # some may have been transferred or handed back since.
        self.shared_reservations: dict[str, None] = {}
        # Those handed back in this pass to an owner (request → the owner): their PENDING says so.
        self.handed_back: dict[str, str] = {}
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

    @property
    def by_leaf(self) -> dict[int, list[str]]:
        """Allocations per leaf, built on first use: only expiry and preemption planning need
        it, and a pass without either should not pay for indexing every allocation."""
        if self._by_leaf is None:
            by: dict[int, list[str]] = {}
            index, reqs, allocs = self.tree.index, self.requests, self.allocations
            for aid in sorted(allocs, key=lambda a: reqs[a].order[2]):  # cached natural id order
                by.setdefault(index[allocs[aid].leaf], []).append(aid)
            self._by_leaf = by
        return self._by_leaf

    def vec(self, rid: str) -> list[int]:
        """The demand vector of ``rid``.  Vectors are read-only and interned: requests of one
        shape share one list, so its ``id`` names the shape in per-pass memos (B2, B9)."""
        v = self.vecs.get(rid)
        if v is None:
            v = self.intern(rid, self.requests[rid].demand_key)
        return v

    def intern(self, rid: str, items: tuple) -> list[int]:
        """Record ``rid``'s demand vector, given its demand's items (see ``vec``).  Most demands
        repeat a few mappings: the items are looked up before a vector is built (B2: 100,000
        requests at scale XL)."""
        v = self._by_items.get(items)
        if v is None:
            v = self.tree.vec(self.requests[rid].demand)
            v = self._by_items[items] = self._canon.setdefault(tuple(v), v)
        self.vecs[rid] = v
        return v

    def fork_planning_view(self) -> None:
        """Give ``actual`` its own copy before ``sim`` is changed alone.  The two start as one
        ledger (allocate._build_ledgers): while the planning view equals the physical one, an
        admission then charges one ledger instead of two (B2).  The copy goes to ``actual`` so
        that ``sim``'s lists, which the tournament's key closure holds, stay the live ones."""
        if self.sim is self.actual:
            self.actual = self.sim.clone()

    def excluded_in_plan_order(self) -> list[str]:
        """``excluded`` — the victims this pass counts as leaving — in the order a shared
        reservation takes them (P5b, evaluate._share): by the ``plan_seq`` of the first
        reservation that waits for them (``waited_by``), then id.  That is the order in which
        their room is handed on at transfers: a victim's ``victim_of`` names the plan that evicted
        it, which may have been withdrawn since while a later plan still waits for it.  Kept
        between calls rather than sorted on each: a pass shares hundreds of reservations while the
        set grows by a few victims per plan (B10).  Before it is reused it is checked against all
        the order depends on — the set and each victim's key, compared as lists, in C — and built
        again from scratch if anything but an addition changed."""
        excluded, waited_by = self.excluded, self.waited_by
        got = self._leaving
        if got is None or not got.members <= excluded or list(map(waited_by.get, got.order)) != got.seqs:
            got = self._leaving = _LeavingOrder()
        if len(got.members) != len(excluded):
            got.add(excluded - got.members if got.members else excluded, waited_by)
        return got.order

    def count_leaving(self, victim: str, plan_seq: int) -> None:
        """``wait_for``, taking ``victim`` out of the planning view first if it was still counted
        there (a reservation found at the start of a pass, an orphan a transfer now waits for)."""
        if victim not in self.excluded:
            a = self.allocations[victim]
            self.sim.remove(self.tree.index[a.leaf], self.tree.vec(a.demand))
        self.wait_for(victim, plan_seq)

    def evict(self, a: Allocation, victim_of: str | None, deadline: int) -> None:
        """``a`` is Terminating from now, until ``deadline`` (its grace) runs out."""
        self.allocations[a.request] = replace(a, terminating=True, victim_of=victim_of, deadline=deadline)
        if self.terminating is not None:
            self.terminating.append(a.request)

    def wait_for(self, victim: str, plan_seq: int) -> None:
        """Count ``victim`` as leaving, for a reservation made at ``plan_seq`` (see ``waited_by``);
        the caller has taken it out of the planning view."""
        self.excluded.add(victim)
        seq = self.waited_by.get(victim)
        if seq is None or plan_seq < seq:
            self.waited_by[victim] = plan_seq

    def times_preempted(self, rid: str) -> int:
        st = self.status.get(rid)
        return st.times_preempted if st else 0

    def emit(self, action: str, reason: str, *, request=None, victim=None, preemptor=None, facts=None,
             build_facts=None, facts_args=()) -> None:
        """Record a decision.  The message (and, with ``build_facts(*facts_args)``, the facts) are
        only built when read: most decisions of a large pass are persisted in bulk or never looked
        at.  Functions and argument tuples, not closures: fewer objects for the collector (B2)."""
        self.decisions.append(Decision.lazy(self.now, action, str(reason), request, victim, preemptor, self.modifiers,
                                            _built, (action, reason, request, facts, build_facts, facts_args)))

    def emit_each(self, action: str, build_facts, items) -> None:
        """``emit(action, reason, request=rid, build_facts=build_facts, facts_args=args)`` for every
        ``(rid, reason, args)`` in order, without a call per decision: the PENDING decisions of a
        pass on a full cluster number tens of thousands (B2, scales L and XL)."""
        now, mods, lazy, append = self.now, self.modifiers, Decision.lazy, self.decisions.append
        for rid, reason, args in items:
            append(lazy(now, action, reason, rid, None, None, mods, _built,
                        (action, reason, rid, None, build_facts, args)))


class _LeavingOrder:
    """``PassCtx.excluded_in_plan_order``'s sorted victims, with the keys they were sorted by."""

    __slots__ = ("members", "order", "seqs")

    def __init__(self):
        self.members: set[str] = set()
        self.order: list[str] = []
        self.seqs: list[int] = []

    def add(self, added: set, waited_by: dict) -> None:
        """Key the ``added`` victims and merge them in: a full build orders the set as
        ``sorted(excluded, key=…)`` would."""
        entries = [((seq, id_key(v)), v) for seq, v in zip(self.seqs, self.order, strict=True)]
        entries += [((waited_by.get(v, INF), id_key(v)), v) for v in added]
        entries.sort(key=itemgetter(0))
        self.order = [v for _, v in entries]
        self.seqs = [waited_by.get(v) for v in self.order]
        self.members |= added


def _built(action: str, reason: str, request, facts, build_facts, facts_args: tuple) -> tuple[dict, str]:
    f = (facts or {}) if build_facts is None else build_facts(*facts_args)
    return f, message(action, reason, request, f)


class WouldProgress(Exception):
    """Raised in a dry sweep where a real pass would admit, reserve or evict."""
