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
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from .fairshare import drs, drs_key, ratio_pair
from .model import Allocation, id_key

RANK = {"R": 0, "F": 1, "B": 2, "W": 3}
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


class _Desc:
    """Reverses the order of a natural id key inside a merge key (id desc)."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __lt__(self, other):
        return other.k < self.k

    def __eq__(self, other):
        return self.k == other.k


def _plan_view(ctx) -> dict:
    """Values that depend only on the planning view ``ctx.sim`` as it is between plans, shared by
    every plan until it changes.  The pass bumps ``ctx.version`` whenever it changes ``sim``
    outside a plan, and a plan restores ``sim`` before it returns (the pass's fit and verdict
    memos rely on the same); so these are only read at the start of a plan."""
    got = ctx.victim_index.get("view")
    if got is None or got[0] != ctx.version:
        got = ctx.victim_index["view"] = (ctx.version, {})
    return got[1]


def _node_state(view: dict, ctx, x: int) -> tuple[list[int], tuple[int, int]]:
    """Balances of node ``x`` and its DRS as an integer pair (``ratio_pair``), in the view."""
    got = view.get(x)
    if got is None:
        balance = [ctx.sim.balance(x, r) for r in range(ctx.tree.R)]
        got = view[x] = (balance, ratio_pair(drs_key(ctx.tree, x, balance)))
    return got


def view_dq(ctx, leaf: int, vec: list[int], a_q: int) -> tuple[int, int]:
    """DRS(a_q + q) in the view, as an integer pair.  Without lend limits B(a_q) after adding q
    does not depend on which leaf below a_q q is in, so requests of one shape share it."""
    view = _plan_view(ctx)
    key = ("dq", a_q, tuple(vec)) if ctx.tree.plain else ("dq", leaf, a_q, tuple(vec))
    got = view.get(key)
    if got is None:
        got = view[key] = ratio_pair(drs_key(ctx.tree, a_q, ctx.sim.balance_after(leaf, vec, a_q)))
    return got


def view_node(ctx, x: int) -> tuple[list[int], tuple[int, int]]:
    """B(x) and DRS(x) as an integer pair, in the view."""
    return _node_state(_plan_view(ctx), ctx, x)


def _borrowing_children(ctx, A: int, need: tuple[int, ...]) -> list[tuple]:
    """The children of ``A`` that borrow a resource in ``need``: the possible ``a_v`` below ``A``,
    each as (node, DRS, DRS as a reduced (numerator, denominator), order) where ``order`` sorts
    by DRS descending — by its float first, which is monotone, then exactly — so that grouping
    and ordering a plan's candidates needs no Fraction arithmetic.  Shared by the plans of every
    request below ``A`` with the same resources while the view is unchanged (B10)."""
    view = _plan_view(ctx)
    key = (A, need)
    got = view.get(key)
    if got is None:
        got = view[key] = []
        for c in ctx.tree.children[A]:
            balance = _node_state(view, ctx, c)[0]
            if any(balance[r] < 0 for r in need):
                d = drs(ctx.tree, c, balance)
                exact = (d, 1) if d.__class__ is int else (d.numerator, d.denominator)
                got.append((c, d, exact, (-float(d), -d)))
    return got


def demand_floor(ctx) -> list[int]:
    """A lower bound, per resource, on what taking any candidate of this pass frees: the least
    demand of any request (an allocation holds its request's demand) or allocation (it may have
    been shrunk, P4), never below 0.  ``waste.shrink_commit`` lowers it when it shrinks one."""
    floor = ctx.victim_index.get("floor")
    if floor is None:
        reqs, allocs = ctx.requests, ctx.allocations
        demands = [q.demand for q in reqs.values()]
        demands += [allocs[rid].demand for rid, q in reqs.items() if q.elastic_min and rid in allocs]
        floor = ctx.victim_index["floor"] = [0] * ctx.tree.R
        for r, name in enumerate(ctx.tree.config.resources):
            least = None
            for d in demands:
                v = d.get(name, 0)
                if least is None or v < least:
                    least = v
                    if v <= 0:
                        break
            floor[r] = max(0, least or 0)
    return floor


def fair_share_impossible(ctx, dq: tuple[int, int], cur: tuple[int, int], a_v: int, balance: list[int],
                          s2a: bool, s2b: bool) -> bool:
    """True if no P-F candidate below ``a_v`` can pass S2-a or S2-b (as far as the strategies
    ``s2a``/``s2b`` are tried) in the current simulated state, where DRS(a_q + q) = ``dq``,
    DRS(a_v) = ``cur`` and ``balance`` = B(a_v), DRS as integer pairs.  Both strategies need
    DRS(a_q + q) ≤ DRS(a_v) (ε ≥ 0); S2-b then holds if that is strict.  Otherwise only S2-a
    can, and in a tree without lend limits removing v raises B(a_v) by exactly v, at least the
    pass's demand floor, so DRS(a_v − v) ≤ DRS(a_v + floor): if S2-a fails on that bound it
    fails for every v (ties between equal siblings — unit sizes — make this the usual case)."""
    eps = ctx.settings.fs_epsilon
    if eps.numerator < 0:
        return False
    if dq[0] * cur[1] > cur[0] * dq[1]:
        return True
    if s2b and dq[0] * cur[1] < cur[0] * dq[1]:
        return False
    if not s2a:
        return True
    tree = ctx.tree
    if not tree.plain:
        return False
    floor = demand_floor(ctx)
    best = ratio_pair(drs_key(tree, a_v, [b + f for b, f in zip(balance, floor, strict=True)]))
    return dq[0] * (eps.denominator + eps.numerator) * best[1] > best[0] * dq[1] * eps.denominator


def _first(t: tuple):
    return t[0]


def _level_impossible(ctx, leaf: int, vec: list[int], need: tuple[int, ...], A: int, a_q: int,
                      classes: tuple[str, ...]) -> bool:
    """No member below ``A`` (its borrowing children but a_q) can hold a valid candidate in the
    view: there is none, or the level's only class is P-F and each member is impossible for
    every strategy the settings name (``fair_share_impossible``)."""
    view = _plan_view(ctx)
    key = ("level", A, a_q, tuple(vec), classes) if ctx.tree.plain else ("level", leaf, A, a_q, tuple(vec), classes)
    got = view.get(key)
    if got is None:
        members = [c for c, *_ in _borrowing_children(ctx, A, need) if c != a_q]
        got = not members
        if members and classes == ("F",):
            strategies = ctx.settings.fs_strategies
            s2a, s2b = "S2a" in strategies, "S2b" in strategies
            dq = view_dq(ctx, leaf, vec, a_q)
            got = True
            for c in members:
                balance, cur = _node_state(view, ctx, c)
                if not fair_share_impossible(ctx, dq, cur, c, balance, s2a, s2b):
                    got = False
                    break
        view[key] = got
    return got


def _free_orphans(ctx) -> list[str]:
    """Terminating allocations whose preemptor is gone and that no plan of the pass has taken
    since (``excluded`` only grows when a plan is committed, which changes the view)."""
    view = _plan_view(ctx)
    free = view.get("orphans")
    if free is None:
        orphans = ctx.victim_index.get("orphans")
        if orphans is None:
            orphans = ctx.victim_index["orphans"] = sorted(
                (aid for aid, a in ctx.allocations.items() if a.terminating), key=id_key)
        free = view["orphans"] = [aid for aid in orphans if aid not in ctx.excluded]
    return free


class _Segment:
    """Part of a plan's candidate stream: the orphans (``key`` None, produced up front) or one
    group, whose candidates are merged from its leaves only when the walk first reaches them."""

    __slots__ = ("key", "members", "items", "owner", "stream", "done")

    def __init__(self, key, members, owner):
        self.key, self.members, self.owner = key, members, owner
        self.items: list[Candidate] = []
        self.stream = None
        self.done = key is None

    def nonempty(self) -> bool:
        """Whether the segment holds a candidate, without merging its leaves: a group is
        non-empty if any of its leaf streams is (their candidates are thrown away)."""
        if self.items:
            return True
        if self.done:
            return False
        owner = self.owner
        for a_v, A, cls in self.members:
            for lv in [a_v] if cls == "W" else owner._leaves_under(a_v):
                if next(owner._leaf_stream(lv, a_v, A, cls), None) is not None:
                    return True
        return False

    def more(self) -> bool:
        """Append the next candidate to ``items``; False when the segment is exhausted."""
        if self.done:
            return False
        if self.stream is None:
            self.stream = self.owner._open(self.key, self.members)
        c = next(self.stream, None)
        if c is None:
            self.done, self.stream = True, None
            return False
        self.items.append(c)
        return True


def _leaf_order(ctx, lv: int) -> list[str]:
    """The running allocations of one leaf in leaf-local candidate order, cached for the pass.
    ``by_leaf`` only grows during the tournament (admissions append), so its length tells
    whether the cached order is still complete."""
    cache = ctx.victim_index
    ids = ctx.by_leaf.get(lv) or ()
    hit = cache.get(lv)
    if hit is not None and hit[0] == len(ids):
        return hit[1]
    reqs, allocs = ctx.requests, ctx.allocations
    beta = ctx.settings.preempted_priority_boost
    # One sort, descending on the mirrored key: (−priority, admitted, created, id) descending is
    # (priority asc, admitted desc, created desc, id desc).
    if beta:
        out = sorted(ids, reverse=True, key=lambda a: (-reqs[a].priority - beta * ctx.times_preempted(a),
                                                       allocs[a].admitted_at, reqs[a].created_at, reqs[a].order[2]))
    else:
        def key(a):
            o = reqs[a].order  # (−priority, created_at, id key), computed once per request
            return (o[0], allocs[a].admitted_at, o[1], o[2])

        out = sorted(ids, reverse=True, key=key)
    cache[lv] = (len(ids), out)
    return out


class Candidates:
    """Iterable over the candidates of one plan; iterating again replays what was produced.

    Built in two steps: the constructor only notes which classes apply at each level of q's
    path; the groups and orphans (``segments``) are made on first use, which a hopeless plan
    (``hopeless``) never reaches — most plans of a full cluster (benchmark B10)."""

    def __init__(self, ctx, q, leaf: int, need: list[int], pending_since: int, only_within: bool,
                 adv: int | None):
        self.ctx, self.q, self.leaf, self.need = ctx, q, leaf, need
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
        # (a_v, A, cls), each group's candidates merged from its leaves when first needed.
        self._segments: list[_Segment] | None = None
        self._drs: dict[int, object] = {}  # DRS of each a_v (a Fraction, or 0)
        self._within = within_ok and bool(ctx.by_leaf.get(leaf))  # a P-W group
        self._levels: list[tuple[int, int, tuple[str, ...]]] = []  # (A, a_q, classes)
        self._need_t = tuple(need)
        if elsewhere:
            path = tree.path[leaf]
            for i in range(1, len(path)):
                A = path[i]
                r_ok = self.reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A]
                other = self.bp_ok or self.fs_ok
                classes = []
                if r_ok:
                    classes.append("R")
                if other and (not r_ok or node.reclaim_policy != "Any"):
                    classes.append("B" if self.bp_ok else "F")
                if classes:
                    self._levels.append((A, path[i - 1], tuple(classes)))

    @property
    def segments(self) -> list[_Segment]:
        if self._segments is None:
            self._build()
        return self._segments

    def _build(self) -> None:
        ctx, leaf = self.ctx, self.leaf
        self._segments = [_Segment(None, (), self)]
        if not self._within and not self._levels:
            return  # no class can apply: skip everything (benchmark B2 passes without preemption)
        # Groups by (class, exact DRS): (sort key, segment key (class, −DRS), members).
        groups: dict[tuple, tuple] = {}
        if self._within:
            groups[(RANK["W"], 0, 1)] = ((RANK["W"], -0.0, 0), (RANK["W"], 0), [(leaf, leaf, "W")])
        for A, a_q, classes in self._levels:
            for c, d, exact, order in _borrowing_children(ctx, A, self._need_t):
                if c == a_q:
                    continue
                self._drs[c] = d
                for cls in classes:
                    rank = RANK[cls]
                    g = groups.get((rank, *exact))
                    if g is None:
                        g = groups[rank, *exact] = ((rank, *order), (rank, order[1]), [])
                    g[2].append((c, A, cls))
        self._segments += [_Segment(key, members, self) for _, key, members in sorted(groups.values(), key=_first)]
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
        ctx, q, leaf = self.ctx, self.q, self.leaf
        if ctx.settings.fs_epsilon < 0:
            return False
        if self._within and (self.node.within_policy != "LowerPriority" or any(
                ctx.requests[a].priority < q.priority for a in ctx.by_leaf.get(leaf) or ())):
            return False
        return all(_level_impossible(ctx, leaf, vec, self._need_t, A, a_q, classes) for A, a_q, classes in self._levels)

    # ------------------------------------------------------------ iteration

    def __iter__(self):
        for _, _, c in self.walk():
            yield c

    def walk(self, dead=None):
        """(segment, index in it, candidate) in candidate order.  ``dead(key, members)`` is asked
        at the start of each group: True skips the whole group without reading its allocations
        (the caller vouches that none of them could be taken)."""
        for seg in self.segments:
            if dead is not None and seg.key is not None and dead(seg.key, seg.members):
                continue
            items = seg.items
            j = 0
            while j < len(items) or seg.more():
                yield seg, j, items[j]
                j += 1

    def __bool__(self) -> bool:
        return any(seg.nonempty() for seg in self.segments)

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
        if any(c.tags for c in self.segments[0].items):
            return True
        tree, fence = self.ctx.tree, self.fence
        for seg in self.segments[1:]:
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
        out = {c.cls for c in self.segments[0].items}
        out.update(_CLASS[seg.key[0]] for seg in self.segments[1:] if seg.nonempty())
        return out

    def has_class(self, cls: str) -> bool:
        """Whether any candidate is of class ``cls`` (a group holds candidates of its class only,
        so this opens at most the first non-empty group of that class)."""
        if any(c.cls == cls for c in self.segments[0].items):
            return True
        rank = RANK[cls]
        return any(seg.key[0] == rank and seg.nonempty() for seg in self.segments[1:])

    # ------------------------------------------------------------ groups

    def _open(self, key, members):
        streams = []
        for a_v, A, cls in members:
            leaves = [a_v] if cls == "W" else self._leaves_under(a_v)
            for lv in leaves:
                streams.append(self._leaf_stream(lv, a_v, A, cls))
        if len(streams) == 1:
            return streams[0]
        reqs = self.ctx.requests
        beta = self.beta

        def mkey(c: Candidate):
            rq = reqs[c.alloc.request]
            p = rq.priority + beta * self.ctx.times_preempted(rq.id) if beta else rq.priority
            return (p, -c.alloc.admitted_at, -rq.created_at, _Desc(rq.order[2]))

        return heapq.merge(*streams, key=mkey)

    def _leaves_under(self, a_v: int) -> list[int]:
        """Leaves below ``a_v`` whose whole path up to ``a_v`` borrows a resource q needs, on the
        state the plan started from: the view, so plans of the pass share them."""
        view = _plan_view(self.ctx)
        key = ("chain", a_v, self._need_t)
        got = view.get(key)
        if got is not None:
            return got
        ctx, tree, need = self.ctx, self.ctx.tree, self.need
        sim = ctx.sim
        for c in reversed(self.removed):
            sim.add(c.leaf, c.vec)
        try:
            sq, usage = tree.sq, sim.usage
            out: list[int] = []
            stack = [a_v]
            while stack:
                x = stack.pop()
                if tree.is_leaf[x]:
                    if ctx.by_leaf.get(x):
                        out.append(x)
                    continue
                for c in tree.children[x]:
                    sqc, uc = sq[c], usage[c]
                    if any(sqc[r] < uc[r] for r in need):
                        stack.append(c)
        finally:
            for c in self.removed:
                sim.remove(c.leaf, c.vec)
        out.sort()
        view[key] = out
        return out

    def _leaf_stream(self, lv: int, a_v: int, A: int, cls: str):
        ctx = self.ctx
        allocs, excluded = ctx.allocations, ctx.excluded
        band_head = (1, RANK[cls], self._drs.get(a_v, 0))
        a_q = self.leaf if cls == "W" else ctx.tree.child_towards(A, self.leaf)
        for aid in _leaf_order(ctx, lv):
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
        orphans = _free_orphans(ctx)
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
                A = tree.lca(self.leaf, lv)
                a_v = tree.child_towards(A, lv)
                ok = a_v in self._drs and lv in self._leaves_under(a_v)
                c = self._make(a, lv, A, tree.child_towards(A, self.leaf), a_v) if ok else None
            if c is None:
                continue
            c.band = (0, RANK[c.cls], self._drs.get(c.a_v, 0), self._aged(c))
            out.append(c)
        reqs = ctx.requests
        out.sort(key=lambda c: reqs[c.alloc.request].order[2], reverse=True)
        out.sort(key=lambda c: (RANK[c.cls], -self._drs.get(c.a_v, 0), self._aged(c), -c.alloc.admitted_at,
                                -reqs[c.alloc.request].created_at))
        self._segments[0].items.extend(out)

    def _aged(self, c: Candidate) -> int:
        p = self.ctx.requests[c.alloc.request].priority
        return p + self.beta * self.ctx.times_preempted(c.alloc.request) if self.beta else p

    # ------------------------------------------------------------ one allocation

    def _make(self, a: Allocation, lv: int, A: int, a_q: int, a_v: int) -> Candidate | None:
        """Classify one allocation (P-R, P-F, P-B, P-W) or None if it is no candidate."""
        ctx, q, need, node = self.ctx, self.q, self.need, self.node
        if a.request == q.id:
            return None
        vreq = ctx.requests[a.request]
        if not vreq.preemptible:
            return None
        vvec = ctx.vec(a.request) if a.demand == vreq.demand else ctx.tree.vec(a.demand)  # shrunk (P4)
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
            c.cls = "F"
            until = a.admitted_at + tree.min_runtime[lv]
            if now < until:
                c.tags["protected"] = until
        if now < self.fs_until:
            c.tags["delay"] = self.fs_until
        if self.fence >= 0 and tree.depth[A] < tree.depth[self.fence]:
            c.tags["fenced"] = 0
        return c
