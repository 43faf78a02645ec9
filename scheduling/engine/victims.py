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

from .fairshare import drs
from .model import Allocation, id_key

RANK = {"R": 0, "F": 1, "B": 2, "W": 3}


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
    """Iterable over the candidates of one plan; iterating again replays what was produced."""

    def __init__(self, ctx, q, leaf: int, need: list[int], pending_since: int, only_within: bool,
                 adv: int | None):
        self.ctx, self.q, self.leaf, self.need = ctx, q, leaf, need
        self.items: list[Candidate] = []
        self.removed: list[Candidate] = []  # victims the greedy walk has taken out of ctx.sim
        tree, sim, s, now = ctx.tree, ctx.sim, ctx.settings, ctx.now
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
        self._groups: list[tuple[tuple, list[tuple[int, int, str]]]] = []  # (key, [(a_v, A, cls)])
        self._pending_group = 0
        self._merge = None
        self._drs: dict[int, object] = {}
        self._chain_leaves: dict[int, list[int]] = {}
        if not within_ok and not elsewhere:
            return  # no class can apply: skip everything (benchmark B2 passes without preemption)
        groups: dict[tuple, list[tuple[int, int, str]]] = {}
        if within_ok and ctx.by_leaf.get(leaf):
            groups[(RANK["W"], 0)] = [(leaf, leaf, "W")]
        if elsewhere:
            path = tree.path[leaf]
            for i in range(1, len(path)):
                A, a_q = path[i], path[i - 1]
                r_ok = self.reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A]
                other = self.bp_ok or self.fs_ok
                classes = []
                if r_ok:
                    classes.append("R")
                if other and (not r_ok or node.reclaim_policy != "Any"):
                    classes.append("B" if self.bp_ok else "F")
                if not classes:
                    continue
                for c in tree.children[A]:
                    if c == a_q or not any(sim.balance(c, r) < 0 for r in need):
                        continue
                    d = self._drs[c] = drs(tree, c, [sim.balance(c, r) for r in range(tree.R)])
                    for cls in classes:
                        groups.setdefault((RANK[cls], -d), []).append((c, A, cls))
        self._groups = sorted(groups.items(), key=lambda kv: kv[0])
        self._orphans()

    def hopeless(self, vec: list[int]) -> bool:
        """True only if no candidate of this plan can pass validation in the state the plan
        starts from — then the greedy walk never takes one, so the state never changes and no
        candidate is valid at any point.  Judged per group without reading allocations:

        * orphans, P-R groups (validity depends on the chain and the advantage) and P-B groups
          count as possible;
        * P-W needs an allocation of q's leaf with lower priority (or, under
          LowerOrNewerEqualPriority, possibly equal);
        * P-F needs DRS(a_q + q) ≤ DRS(a_v) (S2-b strictly; S2-a too, since removing v only
          lowers DRS(a_v) and ε ≥ 0), and the group key holds DRS(a_v) at the start.
        """
        if self.items or self.ctx.settings.fs_epsilon < 0:
            return False
        ctx, tree, q, leaf = self.ctx, self.ctx.tree, self.q, self.leaf
        probe = None
        for (rank, neg_drs), members in self._groups:
            if rank == RANK["W"]:
                if self.node.within_policy != "LowerPriority" or any(
                    ctx.requests[a].priority < q.priority for a in ctx.by_leaf.get(leaf) or ()
                ):
                    return False
                continue
            if rank != RANK["F"]:
                return False
            if probe is None:
                probe = ctx.sim.probe(leaf, vec)
            for _, A, _ in members:
                a_q = tree.child_towards(A, leaf)
                if drs(tree, a_q, probe[tree.depth[leaf] - tree.depth[a_q]]) <= -neg_drs:
                    return False
        return True

    # ------------------------------------------------------------ iteration

    def __iter__(self):
        i = 0
        while True:
            if i < len(self.items):
                yield self.items[i]
                i += 1
            elif not self.more():
                return

    def __bool__(self) -> bool:
        return bool(self.items) or self.more()

    def everything(self) -> list[Candidate]:
        while self.more():
            pass
        return self.items

    def more(self) -> bool:
        """Append the next candidate to ``items``; False when the stream is exhausted."""
        while True:
            if self._merge is not None:
                c = next(self._merge, None)
                if c is not None:
                    self.items.append(c)
                    return True
                self._merge = None
            if self._pending_group >= len(self._groups):
                return False
            key, members = self._groups[self._pending_group]
            self._pending_group += 1
            self._merge = self._open(key, members)

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
        state the plan started from."""
        got = self._chain_leaves.get(a_v)
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
        self._chain_leaves[a_v] = out
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
        orphans = ctx.victim_index.get("orphans")
        if orphans is None:
            orphans = ctx.victim_index["orphans"] = sorted(
                (aid for aid, a in ctx.allocations.items() if a.terminating), key=id_key)
        w_ok = (RANK["W"], 0) in {k for k, _ in self._groups}
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
        self.items.extend(out)

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
