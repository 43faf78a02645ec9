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

from .fairshare import drs_key, drs_value, ratio_pair
from .model import Allocation, id_key
from .tree import INF

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
    """Values that depend on the planning view ``ctx.sim`` as a whole, shared by every plan until
    it changes.  The pass bumps ``ctx.version`` whenever it changes ``sim`` outside a plan, and a
    plan restores ``sim`` before it returns (the pass's fit and verdict memos rely on the same);
    so these are only read at the start of a plan, or for the state a plan started from."""
    got = ctx.victim_index.get("view")
    if got is None or got[0] != ctx.version:
        got = ctx.victim_index["view"] = (ctx.version, {})
    return got[1]


# Values derived from a few nodes' usage are kept for the whole pass instead, each with a copy of
# the usage it was computed from, and recomputed when that usage differs: a pass commits hundreds
# of plans and admissions, and each changes only the paths it touches (B10).

def _node(ctx, x: int) -> tuple:
    """(usage, B(x), DRS(x) as an integer pair, DRS key) of node ``x`` in the simulated state."""
    cache = ctx.victim_index.setdefault("nodes", {})
    u = ctx.sim.usage[x]
    got = cache.get(x)
    if got is None or got[0] != u:
        tree = ctx.tree
        balance = [s - v for s, v in zip(tree.sq[x], u, strict=True)]
        k = drs_key(tree, x, balance)
        got = cache[x] = (u[:], balance, ratio_pair(k), k)
    return got


def view_node(ctx, x: int) -> tuple[list[int], tuple[int, int]]:
    """B(x) and DRS(x) as an integer pair."""
    got = _node(ctx, x)
    return got[1], got[2]


def view_dq(ctx, leaf: int, vec: list[int], a_q: int) -> tuple[int, int]:
    """DRS(a_q + q) as an integer pair.  It depends on the usage of the path from q's leaf up to
    a_q — without lend limits on a_q's alone, so requests of one shape below a_q share it."""
    tree = ctx.tree
    usage = ctx.sim.usage
    if tree.plain:
        key, nodes = ("dq", a_q, tuple(vec)), (a_q,)
    else:
        path = tree.path[leaf]
        key, nodes = ("dq", leaf, a_q, tuple(vec)), path[:path.index(a_q) + 1]
    cache = ctx.victim_index.setdefault("dq", {})
    got = cache.get(key)
    if got is None or any(usage[x] != u for x, u in zip(nodes, got[0], strict=True)):
        value = ratio_pair(drs_key(tree, a_q, ctx.sim.balance_after(leaf, vec, a_q)))
        got = cache[key] = ([usage[x][:] for x in nodes], value)
    return got[1]


def _borrowing_children(ctx, A: int, need: tuple[int, ...]) -> list[tuple]:
    """The children of ``A`` that borrow a resource in ``need``: the possible ``a_v`` below ``A``,
    each as (node, DRS, DRS as a reduced (numerator, denominator), order) where ``order`` sorts
    by DRS descending — by its float first, which is monotone, then exactly — so that grouping
    and ordering a plan's candidates needs no Fraction arithmetic.  The same list object is
    returned while no child's usage changed (``_level_impossible`` relies on it).

    Only read for the state a plan starts from (``Candidates``: groups, ``hopeless``,
    ``strict_futile``), which is the view's: within one version the answer is not re-checked."""
    cache = ctx.victim_index.setdefault("children", {})
    key = (A, need)
    got = cache.get(key)
    if got is not None and got[2] == ctx.version:
        return got[1]
    kids, usage = ctx.tree.children[A], ctx.sim.usage
    if got is None or any(usage[c] != u for c, u in zip(kids, got[0], strict=True)):
        out = []
        for c in kids:
            balance, k = _node(ctx, c)[1::2]
            if any(balance[r] < 0 for r in need):
                d = drs_value(k)
                exact = (d, 1) if d.__class__ is int else (d.numerator, d.denominator)
                out.append((c, d, exact, (-float(d), -d)))
        got = ([usage[c][:] for c in kids], out)
    cache[key] = (got[0], got[1], ctx.version)
    return got[1]


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


def all_protected(ctx, a_v: int) -> bool:
    """Every P-F candidate below ``a_v`` is still protected by ``min_runtime_fairshare``: in every
    leaf below it, even the oldest allocation is younger than the leaf's minimum runtime.  Per
    pass: admissions only add allocations that are protected while the pass runs (its ``now``),
    unless a leaf has no minimum runtime, which then never counts as protected."""
    until = ctx.victim_index.get("protected")
    if until is None:
        tree, now = ctx.tree, ctx.now
        until = [INF] * len(tree.ids)
        for x in range(len(tree.ids)):
            if tree.is_leaf[x] and tree.min_runtime[x] <= 0:
                until[x] = now
        allocs = ctx.allocations
        for lv, ids in ctx.by_leaf.items():
            if ids:
                until[lv] = min(until[lv], min(allocs[a].admitted_at for a in ids) + tree.min_runtime[lv])
        for x in sorted(range(len(tree.ids)), key=lambda i: -tree.depth[i]):
            p = tree.parent[x]
            if p >= 0 and until[x] < until[p]:
                until[p] = until[x]
        ctx.victim_index["protected"] = until
    return until[a_v] > ctx.now


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


def _skeleton(ctx, leaf: int, levels: tuple, need: tuple[int, ...], within: bool) -> tuple[list[tuple], dict, dict]:
    """The groups of a plan's candidate stream, in order, as (key, members), and the DRS of
    each a_v, as a value and as a descending sort key: by (class, exact DRS), sorted by (class,
    DRS descending), members (a_v, A, cls).
    They follow from the levels (``Candidates``) and each level's borrowing children, so plans
    at one leaf share them while those lists are the same objects (``_borrowing_children``);
    the caller never changes them."""
    lists = tuple(_borrowing_children(ctx, A, need) for A, _, _ in levels)
    cache = ctx.victim_index.setdefault("skeleton", {})
    known = (leaf, levels, need, within)
    got = cache.get(known)
    if got is not None and all(a is b for a, b in zip(got[0], lists, strict=True)):
        return got[1:]
    # Groups by (class, exact DRS): (sort key, segment key (class, −DRS), members).
    groups: dict[tuple, tuple] = {}
    drs: dict[int, object] = {}
    descending: dict[int, tuple] = {}
    if within:
        groups[(RANK["W"], 0, 1)] = ((RANK["W"], -0.0, 0), (RANK["W"], 0), [(leaf, leaf, "W")])
    for (A, a_q, classes), children in zip(levels, lists, strict=True):
        for c, d, exact, order in children:
            if c == a_q:
                continue
            drs[c] = d
            descending[c] = order
            for cls in classes:
                rank = RANK[cls]
                g = groups.get((rank, *exact))
                if g is None:
                    g = groups[rank, *exact] = ((rank, *order), (rank, order[1]), [])
                g[2].append((c, A, cls))
    ordered = [(key, members) for _, key, members in sorted(groups.values(), key=_first)]
    cache[known] = (lists, ordered, drs, descending)
    return ordered, drs, descending


def _level_impossible(ctx, leaf: int, vec: list[int], need: tuple[int, ...], A: int, a_q: int,
                      classes: tuple[str, ...]) -> bool:
    """No member below ``A`` (its borrowing children but a_q) can hold a valid candidate: there
    is none, or the level's only class is P-F and each member is impossible for every strategy
    the settings name (``fair_share_impossible``).  Kept while A's children and DRS(a_q + q) are
    unchanged (and the demand floor, which a shrink lowers)."""
    cache = ctx.victim_index.setdefault("level", {})
    key = (A, a_q, tuple(vec), classes) if ctx.tree.plain else (leaf, A, a_q, tuple(vec), classes)
    got = cache.get(key)
    if got is not None and got[4] == ctx.version:  # the view is unchanged: so is the answer
        return got[3]
    members_of = _borrowing_children(ctx, A, need)
    dq = view_dq(ctx, leaf, vec, a_q)
    floor = tuple(demand_floor(ctx))
    if got is not None and got[0] is members_of and got[1] == dq and got[2] == floor:
        cache[key] = got[:4] + (ctx.version,)
        return got[3]
    members = [c for c, *_ in members_of if c != a_q]
    impossible = not members
    if members and classes == ("F",):
        strategies = ctx.settings.fs_strategies
        s2a, s2b = "S2a" in strategies, "S2b" in strategies
        impossible = True
        for c in members:
            balance, cur = view_node(ctx, c)
            if not fair_share_impossible(ctx, dq, cur, c, balance, s2a, s2b):
                impossible = False
                break
    cache[key] = (members_of, dq, floor, impossible, ctx.version)
    return impossible


def _level_dead(ctx, cands, vec: list[int], A: int, a_q: int, classes: tuple[str, ...]) -> bool:
    """No member below ``A`` can give a strict round a candidate to take (``strict_futile``):
    for each of the level's classes, every candidate would be tagged — P-R while the reclaim
    delay runs; P-F and P-B while the fair-share delay runs or when A is above q's fence; P-F
    also when every leaf below the member is still protected or the budget is spent even for
    the least demand — or (P-F) the member is impossible (``fair_share_impossible``)."""
    tree, now, leaf, need = ctx.tree, ctx.now, cands.leaf, cands._need_t
    floor = demand_floor(ctx)
    fenced = cands.fence >= 0 and tree.depth[A] < tree.depth[cands.fence]
    delayed, reclaiming = now < cands.fs_until, now < cands.reclaim_until
    budget = ctx.fs_budget
    spent = budget is not None and any(u + d > b for u, d, b in zip(ctx.fs_used, floor, budget, strict=True))
    cache = ctx.victim_index.setdefault("level_dead", {})
    key = (A, a_q, tuple(vec), classes, fenced, delayed, reclaiming, spent)
    if not tree.plain:
        key += (leaf,)
    got = cache.get(key)
    if got is not None and got[4] == ctx.version:  # the view is unchanged: so is the answer
        return got[3]
    members_of = _borrowing_children(ctx, A, need)
    dq = view_dq(ctx, leaf, vec, a_q)
    if got is not None and got[0] is members_of and got[1] == dq and got[2] == tuple(floor):
        cache[key] = got[:4] + (ctx.version,)
        return got[3]
    strategies = ctx.settings.fs_strategies
    s2a, s2b = "S2a" in strategies, "S2b" in strategies
    dead = True
    for c, *_ in members_of:
        if c == a_q:
            continue
        for cls in classes:
            if cls == "R":
                ok = reclaiming
            elif fenced or delayed:
                ok = True
            elif cls == "B":
                ok = False
            else:
                balance, cur = view_node(ctx, c)
                ok = spent or all_protected(ctx, c) or fair_share_impossible(ctx, dq, cur, c, balance, s2a, s2b)
            if not ok:
                dead = False
                break
        if not dead:
            break
    cache[key] = (members_of, dq, tuple(floor), dead, ctx.version)
    return dead


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
            for lv in [a_v] if cls == "W" else owner._leaves_under(a_v):
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


def _leaf_order(ctx, lv: int) -> tuple[list[str], list[tuple]]:
    """The running allocations of one leaf in leaf-local candidate order, with each one's merge
    key (aged priority, admitted desc, created desc, id desc — the order across leaves), cached
    for the pass.  ``by_leaf`` only grows during the tournament (admissions append), so its
    length tells whether the cached order is still complete."""
    cache = ctx.victim_index
    ids = ctx.by_leaf.get(lv) or ()
    hit = cache.get(lv)
    if hit is not None and hit[0] == len(ids):
        return hit[1], hit[2]
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
    keys = []
    for a in out:
        rq = reqs[a]
        p = rq.priority + beta * ctx.times_preempted(a) if beta else rq.priority
        keys.append((p, -allocs[a].admitted_at, -rq.created_at, _Desc(rq.order[2])))
    cache[lv] = (len(ids), out, keys)
    return out, keys


def _least_priority(ctx, lv: int) -> int | float:
    """The least priority among the allocations of leaf ``lv`` (terminating ones included), kept
    for the pass as ``_leaf_order`` is: ``by_leaf`` only grows while plans are made."""
    cache = ctx.victim_index.setdefault("least_priority", {})
    ids = ctx.by_leaf.get(lv) or ()
    hit = cache.get(lv)
    if hit is None or hit[0] != len(ids):
        reqs = ctx.requests
        hit = cache[lv] = (len(ids), min((reqs[a].priority for a in ids), default=INF))
    return hit[1]


def _divergence(ctx, leaf: int, lv: int) -> tuple[int, int, int]:
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
    lazily and kept: one per member and view (``_merged``), read by every plan that opens it."""

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


def _merged(ctx, a_v: int, leaves: list[int], screen: bool, need: tuple | None) -> _Merge:
    """The running allocations of ``leaves`` (a member's leaves) that are neither terminating nor
    taken by this pass's plans — and with ``screen``, not protected by ``min_runtime_fairshare``
    — merged by the merge key, lazily like ``heapq.merge``: what a plan reads is the same while
    the view is, so the plans of a view share it instead of each heading every leaf."""
    view = _plan_view(ctx)
    key = ("merged", a_v, need, screen)
    got = view.get(key)
    if got is None:
        got = view[key] = _Merge(_merge(ctx, leaves, screen))
    return got


def _merge(ctx, leaves: list[int], screen: bool):
    tree = ctx.tree
    streams, heap = [], []
    for lv in leaves:
        order, keys = _leaf_order(ctx, lv)
        until = tree.min_runtime[lv] if screen else None
        j = _next_free(ctx, order, 0, until)
        if j < len(order):
            heap.append((keys[j], len(streams), j))
        streams.append((lv, order, keys, until))
    heapq.heapify(heap)
    while heap:
        k, si, j = heap[0]
        lv, order, keys, until = streams[si]
        aid = order[j]
        j = _next_free(ctx, order, j + 1, until)
        if j < len(order):
            heapq.heapreplace(heap, (keys[j], si, j))
        else:
            heapq.heappop(heap)
        yield k, aid, lv


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
        # (a_v, A, cls), each group's segment made when first reached and its candidates merged
        # from its leaves when first needed.
        self._orphan_segment: _Segment | None = None
        self._groups: list[tuple] = []  # (key, members), shared with the plans of the view (_skeleton)
        self._group_segments: list[_Segment | None] = []
        self._drs: dict[int, object] = {}  # DRS of each a_v (a Fraction, or 0); shared, read only
        self._drs_descending: dict[int, tuple] = {}  # a_v → its DRS as a descending key; shared
        self._within = within_ok and bool(ctx.by_leaf.get(leaf))  # a P-W group
        self._need_t = tuple(need)
        self.dead_at_start: dict = {}  # preempt._dead_groups: group verdicts before any take
        self.valid_at_start: dict = {}  # preempt._greedy: validity before any take, per strategy
        # (A, a_q, classes) per level of q's path where some class applies: fixed for the pass
        # by the leaf and the advantage node.
        known = ctx.victim_index.setdefault("levels", {})
        self._levels: tuple[tuple[int, int, tuple[str, ...]], ...] = known.get((leaf, adv, elsewhere))
        if self._levels is None:
            self._levels = known[leaf, adv, elsewhere] = self._classes_per_level() if elsewhere else ()

    def _classes_per_level(self) -> tuple:
        tree, node, adv = self.ctx.tree, self.node, self.adv
        path = tree.path[self.leaf]
        levels = []
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
                levels.append((A, path[i - 1], tuple(classes)))
        return tuple(levels)

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
        self._groups, self._drs, self._drs_descending = _skeleton(self.ctx, self.leaf, self._levels, self._need_t,
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
        return all(_level_impossible(ctx, leaf, vec, self._need_t, A, a_q, classes)
                   for A, a_q, classes in reversed(self._levels))

    def strict_futile(self, vec: list[int]) -> bool:
        """True only if no strict round (protections kept) can take a candidate: then each walks
        past every group without taking or validating anything, and can be skipped.  As
        ``hopeless``, level by level before any group is made, a member also counting as dead
        when all its candidates are tagged (``_make``) or, for P-F, over the budget even for the
        pass's least demand.  Orphans (walked one by one) make it False."""
        ctx = self.ctx
        if ctx.settings.fs_epsilon < 0 or _free_orphans(ctx) or self._within_possible():
            return False
        return all(_level_dead(ctx, self, vec, A, a_q, classes) for A, a_q, classes in reversed(self._levels))

    def _within_possible(self) -> bool:
        """A P-W candidate may exist: q's leaf holds an allocation and (under LowerPriority)
        one of them has a lower priority than q."""
        if not self._within:
            return False
        return self.node.within_policy != "LowerPriority" or _least_priority(self.ctx, self.leaf) < self.q.priority

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
        """The group's candidates: its members' allocations in merge order (``_merged``, shared
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
            leaves = [a_v] if cls == "W" else self._leaves_under(a_v)
            merged = _merged(ctx, a_v, leaves, untagged and cls == "F", None if cls == "W" else self._need_t)
            a_q = self.leaf if cls == "W" else tree.child_towards(A, self.leaf)
            subs.append((merged, a_v, A, cls, a_q, (1, RANK[cls], self._drs.get(a_v, 0))))
        heap = []
        for si, (merged, *_) in enumerate(subs):
            head = merged.at(0)
            if head is not None:
                heap.append((head[0], si, 0))
        heapq.heapify(heap)
        while heap:
            _, si, j = heap[0]
            merged, a_v, A, cls, a_q, band_head = subs[si]
            _, aid, lv = merged.items[j]
            nxt = merged.at(j + 1)
            if nxt is not None:
                heapq.heapreplace(heap, (nxt[0], si, j + 1))
            else:
                heapq.heappop(heap)
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
        for aid in _leaf_order(ctx, lv)[0]:
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
                A, a_v, a_q = _divergence(ctx, self.leaf, lv)
                ok = a_v in self._drs and self._on_chain(lv, a_v)
                c = self._make(a, lv, A, a_q, a_v) if ok else None
            if c is None:
                continue
            c.band = (0, RANK[c.cls], self._drs.get(c.a_v, 0), self._aged(c))
            out.append(c)
        if len(out) > 1:
            # (class, DRS of a_v desc, aged priority, admitted desc, created desc, id desc); the
            # DRS descending as _borrowing_children orders it (its float, then exactly).
            descending, unordered = self._drs_descending, (-0.0, 0)
            out.sort(key=lambda c: (RANK[c.cls], descending.get(c.a_v, unordered), *self._orphan_key(c.alloc)))
        self._orphan_segment.items.extend(out)

    def _orphan_key(self, a: Allocation) -> tuple:
        """What orders an orphan after its class and a_v: (aged priority, admitted desc, created
        desc, id desc), fixed for the pass."""
        keys = self.ctx.victim_index.setdefault("orphan_keys", {})
        got = keys.get(a.request)
        if got is None:
            rq = self.ctx.requests[a.request]
            p = rq.priority + self.beta * self.ctx.times_preempted(a.request) if self.beta else rq.priority
            got = keys[a.request] = (p, -a.admitted_at, -rq.created_at, _Desc(rq.order[2]))
        return got

    def _on_chain(self, lv: int, a_v: int) -> bool:
        """``lv in self._leaves_under(a_v)`` for the leaf of an allocation, without listing the
        others: every node from ``lv`` up to ``a_v`` (excluded) borrows a resource q needs, on
        the state the plan started from."""
        if self.removed:
            return lv in self._leaves_under(a_v)
        sq, usage, need, parent = self.ctx.tree.sq, self.ctx.sim.usage, self.need, self.ctx.tree.parent
        x = lv
        while x != a_v:
            sqx, ux = sq[x], usage[x]
            if not any(sqx[r] < ux[r] for r in need):
                return False
            x = parent[x]
        return bool(self.ctx.by_leaf.get(lv))

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
