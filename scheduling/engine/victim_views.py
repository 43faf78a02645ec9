"""Per-pass views of the simulated state that the candidate search (victims.py) reads.

A pass makes hundreds of plans on one simulated ledger (``ctx.sim``), and what they ask about
nodes — balance and DRS, the borrowing children of an ancestor, DRS(a_q + q), which leaves a
borrowing chain reaches — mostly stays the same from plan to plan.  These functions keep the
answers in ``ctx.victim_index`` and recompute one only when it may differ:

* values of the planning view as a whole live in ``plan_view``, dropped when ``ctx.version``
  moves;
* values derived from a few nodes' usage keep a copy of that usage and are recomputed when it
  differs;
* pass-wide bounds (the demand floor, min-runtime protection) are computed once per pass.

``fair_share_impossible``, the bound that lets a plan skip fair-share members without reading
their allocations, lives here as it reads nothing but these views.
"""

from __future__ import annotations

from .fairshare import drs_key, drs_value, ratio_pair
from .tree import INF


def plan_view(ctx) -> dict:
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


def borrowing_children(ctx, A: int, need: tuple[int, ...]) -> list[tuple]:
    """The children of ``A`` that borrow a resource in ``need``: the possible ``a_v`` below ``A``,
    each as (node, DRS, DRS as a reduced (numerator, denominator), order) where ``order`` sorts
    by DRS descending — by its float first, which is monotone, then exactly — so that grouping
    and ordering a plan's candidates needs no Fraction arithmetic.  The same list object is
    returned while no child's usage changed (``level_impossible`` relies on it).

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


def chain_leaves(ctx, a_v: int, need: tuple[int, ...], removed: list) -> list[int]:
    """Leaves below ``a_v`` whose whole path up to ``a_v`` borrows a resource in ``need``, on the
    state the plan started from: the view, so plans of the pass share them.  ``removed``: the
    victims the plan's greedy walk has taken out of ``ctx.sim`` so far, put back meanwhile."""
    view = plan_view(ctx)
    key = ("chain", a_v, need)
    got = view.get(key)
    if got is not None:
        return got
    tree, sim = ctx.tree, ctx.sim
    for c in reversed(removed):
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
        for c in removed:
            sim.remove(c.leaf, c.vec)
    out.sort()
    view[key] = out
    return out


def on_chain(ctx, lv: int, a_v: int, need: tuple[int, ...], removed: list) -> bool:
    """``lv in chain_leaves(...)`` for the leaf of an allocation, without listing the others:
    every node from ``lv`` up to ``a_v`` (excluded) borrows a resource in ``need``, on the state
    the plan started from."""
    if removed:
        return lv in chain_leaves(ctx, a_v, need, removed)
    sq, usage, parent = ctx.tree.sq, ctx.sim.usage, ctx.tree.parent
    x = lv
    while x != a_v:
        sqx, ux = sq[x], usage[x]
        if not any(sqx[r] < ux[r] for r in need):
            return False
        x = parent[x]
    return bool(ctx.by_leaf.get(lv))
