"""Leaf orders and their merges: the running allocations behind a plan's candidate groups, in
the order §10.7 gives them inside a group, produced lazily and shared by the plans of a pass.

Inside one group (class, DRS of a_v) candidates follow (aged priority asc, admitted_at desc,
created_at desc, id desc), a leaf-local key: each leaf's allocations are sorted once per pass
(``leaf_order``) and a member's leaves are merged lazily by that key (``merged``,
``candidate_key``), so a plan reads only as far as its greedy walk goes.  Terminating allocations
whose preemptor went away (orphans) are listed here too (``free_orphans``), ordered among
themselves by the same key, with where their leaf diverges from the preemptor's (``divergence``).
"""

from __future__ import annotations

import heapq
from itertools import compress
from operator import attrgetter

from .model import Allocation, id_key
from .tree import INF
from .victim_views import plan_view

_TERMINATING = attrgetter("terminating")


class _Desc:
    """Reverses the order of a natural id key inside a merge key (id desc)."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __lt__(self, other):
        return other.k < self.k

    def __eq__(self, other):
        return self.k == other.k


def leaf_order(ctx, lv: int) -> list[str]:
    """The running allocations of one leaf in leaf-local candidate order, cached for the pass.
    ``by_leaf`` only grows during the tournament (admissions append), so its length tells whether
    the cached order is still complete.  The order across leaves is ``candidate_key``'s: built
    only for the allocations a merge reaches (B4: a plan taking 2 victims opens 729 leaves of
    12,000 allocations at scale XL, and reads little past each leaf's head)."""
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


def least_priority(ctx, lv: int) -> int | float:
    """The least priority among the allocations of leaf ``lv`` (terminating ones included), kept
    for the pass as ``leaf_order`` is: ``by_leaf`` only grows while plans are made."""
    cache = ctx.victim_index.setdefault("least_priority", {})
    ids = ctx.by_leaf.get(lv) or ()
    hit = cache.get(lv)
    if hit is None or hit[0] != len(ids):
        reqs = ctx.requests
        hit = cache[lv] = (len(ids), min((reqs[a].priority for a in ids), default=INF))
    return hit[1]


def _next_free(ctx, order: list[str], j: int, min_runtime: int | None) -> int:
    """The first index from ``j`` of an allocation that is neither terminating (orphans were
    classified up front) nor excluded (this pass's victims are taken); with ``min_runtime``
    set, also not protected by it."""
    allocs, excluded, n, now = ctx.allocations, ctx.excluded, len(order), ctx.now
    while j < n:
        aid = order[j]
        a = allocs[aid]
        if not a.terminating and aid not in excluded and (min_runtime is None or a.admitted_at + min_runtime <= now):
            return j
        j += 1
    return j


class _Merge:
    """The allocations of some leaves as (merge key, allocation, leaf) in merge order, produced
    lazily and kept: one per member and view (``merged``), read by every plan that opens it."""

    __slots__ = ("items", "gen")

    def __init__(self, gen):
        self.items: list[tuple] = []
        self.gen = gen

    def at(self, i: int) -> tuple | None:
        items = self.items
        while len(items) <= i:
            nxt = next(self.gen, None)
            if nxt is None:
                return None
            items.append(nxt)
        return items[i]


def merged(ctx, a_v: int, leaves: list[int], screen: bool, need: tuple | None) -> _Merge:
    """The running allocations of ``leaves`` (a member's leaves) that are neither terminating nor
    taken by this pass's plans — and with ``screen``, not protected by ``min_runtime_fairshare``
    — merged by the merge key, lazily like ``heapq.merge``: what a plan reads is the same while
    the view is, so the plans of a view share it instead of each heading every leaf."""
    view = plan_view(ctx)
    key = ("merged", a_v, need, screen)
    got = view.get(key)
    if got is None:
        got = view[key] = _Merge(_merge(ctx, leaves, screen))
    return got


def merge_members(streams: list[_Merge]):
    """(index in ``streams``, allocation, leaf) over the merges of a group's members, in merge
    order (ties go to the earlier member), reading each merge only as far as it must."""
    heap = []
    for si, stream in enumerate(streams):
        head = stream.at(0)
        if head is not None:
            heap.append((head[0], si, 0))
    heapq.heapify(heap)
    while heap:
        _, si, j = heap[0]
        stream = streams[si]
        _, aid, lv = stream.items[j]
        nxt = stream.at(j + 1)
        if nxt is not None:
            heapq.heapreplace(heap, (nxt[0], si, j + 1))
        else:
            heapq.heappop(heap)
        yield si, aid, lv


def _merge(ctx, leaves: list[int], screen: bool):
    tree = ctx.tree
    allocs = ctx.allocations
    streams, heap = [], []
    for lv in leaves:
        order = leaf_order(ctx, lv)
        until = tree.min_runtime[lv] if screen else None
        j = _next_free(ctx, order, 0, until)
        if j < len(order):
            heap.append((candidate_key(ctx, allocs[order[j]]), len(streams), j))
        streams.append((lv, order, until))
    heapq.heapify(heap)
    while heap:
        k, si, j = heap[0]
        lv, order, until = streams[si]
        aid = order[j]
        j = _next_free(ctx, order, j + 1, until)
        if j < len(order):
            heapq.heapreplace(heap, (candidate_key(ctx, allocs[order[j]]), si, j))
        else:
            heapq.heappop(heap)
        yield k, aid, lv


def free_orphans(ctx) -> list[str]:
    """Terminating allocations whose preemptor is gone and that no plan of the pass has taken
    since (``excluded`` only grows when a plan is committed, which changes the view)."""
    view = plan_view(ctx)
    free = view.get("orphans")
    if free is None:
        orphans = ctx.victim_index.get("orphans")
        if orphans is None:
            allocs = ctx.allocations
            if ctx.terminating is not None:  # gathered by the pass (PassCtx.terminating)
                terminating = set(ctx.terminating)
            else:  # scanned in C: 50,000 allocations at scale XL (B4)
                terminating = compress(allocs.keys(), map(_TERMINATING, allocs.values()))
            orphans = ctx.victim_index["orphans"] = sorted(terminating, key=id_key)
        free = view["orphans"] = [aid for aid in orphans if aid not in ctx.excluded]
    return free


def candidate_key(ctx, a: Allocation) -> tuple:
    """(aged priority, admitted desc, created desc, id desc): what orders candidates across the
    leaves of a merge, and orphans after their class and a_v; fixed for the pass."""
    keys = ctx.victim_index.setdefault("candidate_keys", {})
    got = keys.get(a.request)
    if got is None:
        rq = ctx.requests[a.request]
        beta = ctx.settings.preempted_priority_boost
        p = rq.priority + beta * ctx.times_preempted(a.request) if beta else rq.priority
        got = keys[a.request] = (p, -a.admitted_at, -rq.created_at, _Desc(rq.order[2]))
    return got


def divergence(ctx, leaf: int, lv: int) -> tuple[int, int, int]:
    """(A, a_v, a_q) for an allocation at leaf ``lv`` and a request at ``leaf`` (another leaf):
    their lowest common ancestor and its children towards each.  Fixed by the tree: kept for
    the pass, as orphans are met by plan after plan."""
    cache = ctx.victim_index.setdefault("divergence", {})
    got = cache.get((leaf, lv))
    if got is None:
        tree = ctx.tree
        A = tree.lca(leaf, lv)
        got = cache[leaf, lv] = (A, tree.child_towards(A, lv), tree.child_towards(A, leaf))
    return got
