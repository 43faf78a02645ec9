"""Candidate victims of one preemption plan, in the candidate order of §10.7, produced lazily.

The order is (terminating first, class P-R < P-F < P-B < P-W, higher DRS of ``a_v`` first,
aged priority asc, admitted_at desc, created_at desc, id desc).  Sorting every running allocation
for each plan costs O(N log N) with N in the tens of thousands (benchmark B4).  Instead:

* a victim outside q's leaf needs a borrowing chain up to the LCA, so candidates can only live
  under a child ``a_v`` of one of q's ancestors that borrows a resource q needs, and only in
  leaves reached from ``a_v`` through borrowing nodes.  ``a_v`` nodes are few (siblings along q's
  path), so their DRS and the resulting *groups* (class, DRS) are computed up front;
* a group's leaves are found, and its allocations read, only when the greedy walk reaches it
  (usually the first group suffices);
* each leaf's allocations are sorted once per pass by the leaf-local part of the key (priority,
  admitted, created, id) and the leaves of a group are merged lazily with ``heapq.merge``, so a
  plan builds one Candidate per leaf of the groups it opens plus one per candidate it walks
  past, not one per running allocation.

Terminating allocations whose preemptor went away (orphans) come first whatever their group; the
few of them are classified eagerly.  Which leaves belong to a group is decided on the state the
plan started from (the walk temporarily restores what the greedy walk removed so far), so the
stream is the same whichever round of the plan reaches it first.

This module holds the stream itself: ``Candidates`` (in segments: the orphans, then one per
group), ``_Segment`` and the classification of one allocation (``Candidates._make``).  What the
stream reads is kept for the pass by the modules below it: victim_views.py (node values on the
simulated state, borrowing chains, the fair-share bound), victim_orders.py (leaf orders, their
lazy merges, the orphans) and victim_groups.py (the groups, and the per-level verdicts behind
``hopeless`` and ``strict_futile``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Allocation, id_key
from .victim_groups import RANK, level_dead, level_impossible, path_levels, skeleton
from .victim_orders import candidate_key, divergence, free_orphans, leaf_order, least_priority, merge_members, merged
from .victim_views import chain_leaves, on_chain

_CLASS = {rank: cls for cls, rank in RANK.items()}


@dataclass(eq=False)
class Candidate:
    alloc: Allocation
    leaf: int
    vec: list[int]  # what taking it frees: the allocation's demand, or the shrunk part (P4)
    cls: str
    A: int
    a_q: int
    a_v: int
    tags: dict[str, int] = field(default_factory=dict)  # tag -> "until" (or 0)
    band: tuple = ()  # (terminating, class, DRS of a_v, aged priority): the P2 swap stays inside one
    shrink_to: list[int] | None = None  # P4: the allocation keeps this instead of being evicted
    # P9 is judged "in the simulated state at selection time": the plan's victims already out of
    # it when this one was validated and taken, in order of taking.  Fill-back (P3) may put some
    # of them back later, so the final victim set alone does not tell that state; the audit hook
    # (decide's ``audit``) reads it here.  Set by the walk that takes it (preempt.py, waste.py).
    taken_after: tuple[Candidate, ...] = ()


class _Segment:
    """Part of a plan's candidate stream: the orphans (``key`` None, produced up front) or one
    group, whose candidates are merged from its leaves only when the walk first reaches them."""

    __slots__ = ("key", "members", "items", "owner", "stream", "done", "strict", "untagged_view")

    def __init__(self, key, members, owner, strict: bool = False):
        self.key, self.members, self.owner, self.strict = key, members, owner, strict
        self.items: list[Candidate] = []
        self.stream = None
        self.done = key is None
        self.untagged_view: _Segment | None = None

    def untagged(self) -> _Segment:
        """The same group's candidates without tags, in the same order: what a strict round
        (protections kept) walks, as it passes over tagged ones.  The orphans are shared."""
        if self.key is None or self.strict:
            return self
        if self.untagged_view is None:
            self.untagged_view = _Segment(self.key, self.members, self.owner, strict=True)
        return self.untagged_view

    def nonempty(self) -> bool:
        """Whether the segment holds a candidate, without merging its leaves: a group is
        non-empty if any of its leaf streams is (their candidates are thrown away)."""
        if self.items:
            return True
        if self.done:
            return False
        owner = self.owner
        for a_v, A, cls in self.members:
            for lv in [a_v] if cls == "W" else chain_leaves(owner.ctx, a_v, owner.need_t, owner.removed):
                if next(owner._leaf_stream(lv, a_v, A, cls), None) is not None:
                    return True
        return False

    def more(self) -> bool:
        """Append the next candidate to ``items``; False when the segment is exhausted."""
        if self.done:
            return False
        if self.stream is None:
            self.stream = self.owner._open(self.key, self.members, self.strict)
        c = next(self.stream, None)
        if c is None:
            self.done, self.stream = True, None
            return False
        self.items.append(c)
        return True


class Candidates:
    """Iterable over the candidates of one plan; iterating again replays what was produced.

    Built in two steps: the constructor only notes which classes apply at each level of q's
    path; the groups and orphans (``segments``) are made on first use, which a hopeless plan
    (``hopeless``) never reaches — most plans of a full cluster (benchmark B10)."""

    def __init__(self, ctx, q, leaf: int, need: list[int], pending_since: int, only_within: bool,
                 adv: int | None, take_back: bool = False):
        self.ctx, self.q, self.leaf, self.need = ctx, q, leaf, need
        self.take_back = take_back  # guards ignored: the owner's last resort (evaluate._plan_or_pending)
        self.guarded = False  # some allocation was passed over for its reclaim guard
        self.removed: list[Candidate] = []  # victims the greedy walk has taken out of ctx.sim
        tree, s, now = ctx.tree, ctx.settings, ctx.now
        node = tree.nodes[leaf]
        self.node = node
        self.reclaim_ok = node.reclaim_policy != "Never"
        bp = node.borrow_preempt
        self.bp_ok = bp.policy == "LowerPriority" and not s.fair_share_preemption
        self.fs_ok = s.fair_share_preemption
        self.reclaim_until = pending_since + node.reclaim_delay
        self.fs_until = pending_since + node.fairshare_delay
        self.fence = tree.fence_of[leaf]
        self.adv = adv
        self.beta = s.preempted_priority_boost
        self.now = now
        within_ok = node.within_policy != "Never"
        elsewhere = not only_within and (adv is not None or self.bp_ok or self.fs_ok)
        # The stream in segments: the orphans, then one per group (class, DRS of a_v) of members
        # (a_v, A, cls), each group's segment made when first reached and its candidates merged
        # from its leaves when first needed.
        self._orphan_segment: _Segment | None = None
        self._groups: list[tuple] = []  # (key, members), shared with the plans of the view (skeleton)
        self._group_segments: list[_Segment | None] = []
        self._drs: dict[int, object] = {}  # DRS of each a_v (a Fraction, or 0); shared, read only
        self._drs_descending: dict[int, tuple] = {}  # a_v → its DRS as a descending key; shared
        self._within = within_ok and bool(ctx.by_leaf.get(leaf))  # a P-W group
        self.need_t = tuple(need)
        self.dead_at_start: dict = {}  # preempt._dead_groups: group verdicts before any take
        self.valid_at_start: dict = {}  # preempt._greedy: validity before any take, per strategy
        other = "B" if self.bp_ok else "F" if self.fs_ok else None
        self._levels: tuple[tuple[int, int, tuple[str, ...]], ...]  # (A, a_q, classes): victim_groups.path_levels
        self._levels = path_levels(ctx, leaf, adv, self.reclaim_ok, other) if elsewhere else ()

    @property
    def segments(self) -> list[_Segment]:
        """The orphans' segment, then every group's (all made)."""
        return [self._orphans_first(), *(self._segment(i) for i in range(len(self._groups)))]

    def _orphans_first(self) -> _Segment:
        """The orphans' segment; the first use also settles the groups (``_build``)."""
        if self._orphan_segment is None:
            self._build()
        return self._orphan_segment

    def _segment(self, i: int) -> _Segment:
        seg = self._group_segments[i]
        if seg is None:
            key, members = self._groups[i]
            seg = self._group_segments[i] = _Segment(key, members, self)
        return seg

    def _each_group_segment(self):
        self._orphans_first()
        for i in range(len(self._groups)):
            yield self._segment(i)

    def _build(self) -> None:
        self._orphan_segment = _Segment(None, (), self)
        if not self._within and not self._levels:
            return  # no class can apply: skip everything (benchmark B2 passes without preemption)
        self._groups, self._drs, self._drs_descending = skeleton(self.ctx, self.leaf, self._levels, self.need_t,
                                                                  self._within)
        self._group_segments = [None] * len(self._groups)
        self._orphans()

    def hopeless(self, vec: list[int]) -> bool:
        """True only if no candidate of this plan can pass validation in the state the plan
        starts from — then the greedy walk never takes one, so the state never changes and no
        candidate is valid at any point.  Judged per group without reading allocations:

        * P-R groups (validity depends on the chain and the advantage) and P-B groups count as
          possible;
        * P-W needs an allocation of q's leaf with lower priority (or, under
          LowerOrNewerEqualPriority, possibly equal);
        * P-F needs S2-b or S2-a to be possible for some strategy (``fair_share_impossible``).

        Orphans need no look of their own: one in q's leaf is judged with the P-W group (the
        leaf's allocations include it), one elsewhere takes the class of its level, whose
        members it lies below (its demand is at least the floor ``fair_share_impossible`` uses).
        Level by level, before any group is made: whether every fair-share member below a level
        is impossible depends only on the view, the level, a_q and q's shape, so the plans of
        one pass share it.  (False is always a safe answer: the walk then finds nothing.)"""
        ctx, leaf = self.ctx, self.leaf
        if ctx.settings.fs_epsilon < 0 or self._within_possible():
            return False
        # Top level first: its answer is shared by the most leaves (every one below its a_q).
        return all(level_impossible(ctx, leaf, vec, self.need_t, A, a_q, classes)
                   for A, a_q, classes in reversed(self._levels))

    def strict_futile(self, vec: list[int]) -> bool:
        """True only if no strict round (protections kept) can take a candidate: then each walks
        past every group without taking or validating anything, and can be skipped.  As
        ``hopeless``, level by level before any group is made, a member also counting as dead
        when all its candidates are tagged (``_make``) or, for P-F, over the budget even for the
        pass's least demand.  Orphans (walked one by one) make it False."""
        ctx = self.ctx
        if ctx.settings.fs_epsilon < 0 or free_orphans(ctx) or self._within_possible():
            return False
        return all(level_dead(ctx, self, vec, A, a_q, classes) for A, a_q, classes in reversed(self._levels))

    def _within_possible(self) -> bool:
        """A P-W candidate may exist: q's leaf holds an allocation and (under LowerPriority)
        one of them has a lower priority than q."""
        if not self._within:
            return False
        return self.node.within_policy != "LowerPriority" or least_priority(self.ctx, self.leaf) < self.q.priority

    # ------------------------------------------------------------ iteration

    def __iter__(self):
        for _, _, c in self.walk():
            yield c

    def walk(self, dead=None, untagged: bool = False, taken: list | None = None):
        """(segment, index in it, candidate) in candidate order.  ``dead(key, members)`` is asked
        at the start of each group, and again inside it after every take (``taken`` grew): True
        skips the rest of the group without reading its allocations (the caller vouches that
        none of them could be taken, so the state it judged stays).  ``untagged``: the groups'
        candidates that carry no tag only (orphans all, as they are few)."""
        orphans = self._orphans_first()
        for i in range(-1, len(self._groups)):
            if i < 0:
                seg, grouped = orphans, False
            else:
                grouped = dead is not None
                if grouped and dead(*self._groups[i]):
                    continue
                seg = self._segment(i)
            if untagged:
                seg = seg.untagged()
            items = seg.items
            j = 0
            seen = len(taken) if taken is not None else 0
            while j < len(items) or seg.more():
                if grouped and taken is not None and len(taken) != seen:
                    seen = len(taken)
                    if dead(seg.key, seg.members):
                        break
                yield seg, j, items[j]
                j += 1

    def __bool__(self) -> bool:
        return self._orphans_first().nonempty() or any(seg.nonempty() for seg in self._each_group_segment())

    def everything(self) -> list[Candidate]:
        out: list[Candidate] = []
        for seg in self.segments:
            while seg.more():
                pass
            out += seg.items
        return out

    def any_tagged(self) -> bool:
        """``any(c.tags for c in self.everything())``, opening no more groups than it must: a
        P-R candidate is tagged only while the reclaim delay runs, P-F and P-B ones while the
        fair-share delay runs or when fenced or (P-F) protected, P-W ones never (``_make``)."""
        if any(c.tags for c in self._orphans_first().items):
            return True
        tree, fence = self.ctx.tree, self.fence
        for seg in self._each_group_segment():
            rank = seg.key[0]
            if rank == RANK["W"]:
                continue
            if rank == RANK["R"]:
                if self.now < self.reclaim_until and seg.nonempty():
                    return True
                continue
            if self.now < self.fs_until:
                if seg.nonempty():
                    return True
                continue
            if rank == RANK["F"] or any(fence >= 0 and tree.depth[A] < tree.depth[fence] for _, A, _ in seg.members):
                while seg.more():
                    pass
                if any(c.tags for c in seg.items):
                    return True
        return False

    def classes(self) -> set[str]:
        """``{c.cls for c in self.everything()}``, opening each group only up to its first
        candidate (a group holds candidates of its own class only)."""
        out = {c.cls for c in self._orphans_first().items}
        out.update(_CLASS[seg.key[0]] for seg in self._each_group_segment() if seg.nonempty())
        return out

    def has_class(self, cls: str) -> bool:
        """Whether any candidate is of class ``cls`` (a group holds candidates of its class only,
        so this opens at most the first non-empty group of that class)."""
        if any(c.cls == cls for c in self._orphans_first().items):
            return True
        rank = RANK[cls]
        return any(seg.key[0] == rank and seg.nonempty() for seg in self._each_group_segment())

    # ------------------------------------------------------------ groups

    def _open(self, key, members, untagged: bool = False):
        """The group's candidates: its members' allocations in merge order (``merged``, shared
        by the plans of the view), each made into a candidate of this plan only when the walk
        reaches it; several members are merged by the same key.

        ``untagged``: only candidates ``_make`` would give no tag, judged before making them —
        a member whose delay runs or that is fenced gives none; a P-F allocation gives none if
        it is still protected.  (Not the budget: the P2 swap counts over-budget candidates of
        the band it works in.)"""
        ctx = self.ctx
        tree, allocs = ctx.tree, ctx.allocations
        subs = []
        for a_v, A, cls in members:
            if untagged and self._member_tagged(A, cls):
                continue
            leaves = [a_v] if cls == "W" else chain_leaves(ctx, a_v, self.need_t, self.removed)
            stream = merged(ctx, a_v, leaves, untagged and cls == "F", None if cls == "W" else self.need_t)
            a_q = self.leaf if cls == "W" else tree.child_towards(A, self.leaf)
            subs.append((stream, a_v, A, cls, a_q, (1, RANK[cls], self._drs.get(a_v, 0))))
        for si, aid, lv in merge_members([sub[0] for sub in subs]):
            _, a_v, A, cls, a_q, band_head = subs[si]
            c = self._make(allocs[aid], lv, A, a_q, a_v)
            if c is not None and c.cls == cls:
                c.band = band_head + (self._aged(c),)
                yield c

    def _member_tagged(self, A: int, cls: str) -> bool:
        """Every candidate of this member carries a tag from its level alone (``_make``)."""
        if cls == "R":
            return self.now < self.reclaim_until
        if cls in ("F", "B"):
            depth = self.ctx.tree.depth
            return self.now < self.fs_until or (self.fence >= 0 and depth[A] < depth[self.fence])
        return False

    def _leaf_stream(self, lv: int, a_v: int, A: int, cls: str):
        ctx = self.ctx
        allocs, excluded = ctx.allocations, ctx.excluded
        band_head = (1, RANK[cls], self._drs.get(a_v, 0))
        a_q = self.leaf if cls == "W" else ctx.tree.child_towards(A, self.leaf)
        for aid in leaf_order(ctx, lv):
            a = allocs[aid]
            if a.terminating or aid in excluded:
                continue  # orphans were classified up front; this pass's victims are taken
            c = self._make(a, lv, A, a_q, a_v)
            if c is not None and c.cls == cls:
                c.band = band_head + (self._aged(c),)
                yield c

    def _orphans(self) -> None:
        """Terminating allocations whose preemptor is gone: first in the order (free capacity
        without new disruption).  Found once per pass; only those not yet re-taken qualify."""
        ctx, tree = self.ctx, self.ctx.tree
        orphans = free_orphans(ctx)
        w_ok = self._within
        out = []
        for aid in orphans:
            if aid in ctx.excluded or aid == self.q.id:
                continue
            a = ctx.allocations[aid]
            lv = tree.index[a.leaf]
            if lv == self.leaf:
                c = self._make(a, lv, lv, lv, lv) if w_ok else None
            else:
                # a_v is registered only below an ancestor where some class applies; the class
                # _make picks is then always one of that ancestor's classes.
                A, a_v, a_q = divergence(ctx, self.leaf, lv)
                ok = a_v in self._drs and on_chain(ctx, lv, a_v, self.need_t, self.removed)
                c = self._make(a, lv, A, a_q, a_v) if ok else None
            if c is None:
                continue
            c.band = (0, RANK[c.cls], self._drs.get(c.a_v, 0), self._aged(c))
            out.append(c)
        if len(out) > 1:
            # (class, DRS of a_v desc, aged priority, admitted desc, created desc, id desc); the
            # DRS descending as borrowing_children orders it (its float, then exactly).
            descending, unordered = self._drs_descending, (-0.0, 0)
            out.sort(key=lambda c: (RANK[c.cls], descending.get(c.a_v, unordered), *candidate_key(ctx, c.alloc)))
        self._orphan_segment.items.extend(out)

    def _aged(self, c: Candidate) -> int:
        p = self.ctx.requests[c.alloc.request].priority
        return p + self.beta * self.ctx.times_preempted(c.alloc.request) if self.beta else p

    # ------------------------------------------------------------ one allocation

    def _taken_back(self, a: Allocation) -> bool:
        """Whether taking ``a`` by P-R or P-F would take back what it reclaimed from this
        request's side, while its own side still owns what it did then (P7).  H1 holds that side
        within owned after the transfer, but it may borrow again later: through newer admissions,
        which the walk takes instead; through reservations that evicted nothing, which the owner
        takes back (reserved_reclaim.py); or, in a deeper tree, through a sibling within its own
        leaf's share, which no class may take.  Only then, as a last resort, is the guard ignored
        (``take_back``): the owner is owed its share (P4), and the request taken back cannot
        reclaim again, its side being over its owned share without it.  A smaller owned share (a
        config change, degraded capacity, D1/D2) ends the guard."""
        if self.take_back:
            return False
        tree = self.ctx.tree
        path, index = tree.path[self.leaf], tree.index
        for victim_side, own_side, owned in a.reclaim_guard:
            x, y = index.get(victim_side), index.get(own_side)
            if x is not None and y is not None and x in path and tuple(tree.owned[y]) == tuple(owned):
                self.guarded = True
                return True
        return False

    def _make(self, a: Allocation, lv: int, A: int, a_q: int, a_v: int) -> Candidate | None:
        """Classify one allocation (P-R, P-F, P-B, P-W) or None if it is no candidate."""
        ctx, q, need, node = self.ctx, self.q, self.need, self.node
        if a.request == q.id:
            return None
        vreq = ctx.requests[a.request]
        if not vreq.preemptible:
            return None
        shrunk = a.demand is not vreq.demand and a.demand != vreq.demand  # P4
        vvec = ctx.tree.vec(a.demand) if shrunk else ctx.vec(a.request)
        if not any(vvec[r] > 0 for r in need):
            return None
        c = Candidate(a, lv, vvec, "", A, a_q, a_v)
        tree, now = ctx.tree, self.now
        if lv == self.leaf:
            if vreq.priority < q.priority or (
                node.within_policy == "LowerOrNewerEqualPriority" and vreq.priority == q.priority
                and (vreq.created_at, id_key(vreq.id)) > (q.created_at, id_key(q.id))
            ):
                c.cls = "W"
                return c
            return None
        adv = self.adv
        if self.reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A] and (
            node.reclaim_policy == "Any" or vreq.priority < q.priority
        ):
            if a.reclaim_guard and self._taken_back(a):
                return None
            c.cls = "R"
            if now < self.reclaim_until:
                c.tags["delay"] = self.reclaim_until
            return c
        if not (self.bp_ok or self.fs_ok):
            return None
        if self.bp_ok:
            thr = node.borrow_preempt.max_priority_threshold
            if not (vreq.priority < q.priority and (thr is None or vreq.priority <= thr)):
                return None
            c.cls = "B"
        else:
            if a.reclaim_guard and self._taken_back(a):
                return None
            c.cls = "F"
            until = a.admitted_at + tree.min_runtime[lv]
            if now < until:
                c.tags["protected"] = until
        if now < self.fs_until:
            c.tags["delay"] = self.fs_until
        if self.fence >= 0 and tree.depth[A] < tree.depth[self.fence]:
            c.tags["fenced"] = 0
        return c
