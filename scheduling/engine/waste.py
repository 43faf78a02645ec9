"""Taking no more than a plan needs: the waste-aware swap (P2) and elastic shrink (P4) of §10.7.

Both run on a greedy result while its victims are removed from ``ctx.sim`` and leave them
removed (possibly a different set, or smaller amounts).  Whatever they choose is checked with
the same oracle as the greedy walk (``satisfied``: F2, plus within owned for pure reclaim) and
the same re-validation (``valid``: the class condition in the simulated state at the moment of
taking, P9), so they can only trade a valid plan for another valid plan.

P2.  The candidate order puts whole priority bands before recency, so a greedy walk consumes
the lower bands entirely and stops inside one band — the one with the lowest priority still
partly in use.  Inside that band recency is only a preference; by evicting "newest first" the
walk may take a 4-unit job where a 1-unit job would do (V#5994).  With at most ``BAND_LIMIT``
candidates in the band, the tail is replaced by the subset of the band with the least
over-reclaim on the bottleneck resource (the resource of the binding constraint), ties to fewer
victims, then newer ones: an exact subset-sum, by a table of (amount, count) pairs reachable from
each suffix of the band, tried in order against the real oracle.  Bigger bands, or tables past
``TABLE_LIMIT`` entries, keep the greedy tail — the rule bounds the cost of B4.

P4.  A victim whose request has ``elastic_min`` keeps the largest size that still lets q in,
per resource (feasibility is per resource, F1), and is shrunk instead of evicted, if even its
elastic minimum frees enough.  Resources absent from ``elastic_min`` do not shrink.
"""

from __future__ import annotations

from dataclasses import replace

from .explain import CLASS_RULE, victim_side, victim_side_limits
from .tree import INF

BAND_LIMIT = 16
TABLE_LIMIT = 4096
TRIES_LIMIT = 32


def swap_tail(ctx, seg, stop, taken, leaf, vec, need, target_within_owned, satisfied, valid) -> list:
    """``seg``: the segment of the candidate stream (victims.py) where the greedy walk stopped, at
    index ``stop``; a band never spans two segments (its key holds the class and a_v's DRS)."""
    band = taken[-1].band
    n_tail = 0
    while n_tail < len(taken) and taken[-1 - n_tail].band == band:
        n_tail += 1
    prefix, tail = taken[:-n_tail], taken[-n_tail:]
    items = seg.items
    lo = stop
    while lo > 0 and items[lo - 1].band == band:
        lo -= 1
    status = ctx.status

    def eligible(c) -> bool:
        # A request that got in by owned reclaim (by transfer) is never swapped in: reclaiming it
        # back for the side it reclaimed from would be the ping-pong H1/P7 rule out.  Newest
        # first keeps such requests behind the later admissions that made its side borrow.
        return not c.tags and (any(c is t for t in tail) or status[c.alloc.request].reason != "ADMITTED_BY_TRANSFER")

    members = [c for c in items[lo:stop + 1] if eligible(c)]
    i = stop + 1
    while len(members) <= BAND_LIMIT:
        if i >= len(items) and not seg.more():
            break
        c = items[i]
        if c.band != band:
            break
        if eligible(c):
            members.append(c)
        i += 1
    if len(members) > BAND_LIMIT or len(members) == n_tail:
        return taken
    sim = ctx.sim
    for c in reversed(tail):
        sim.add(c.leaf, c.vec)
    choice = _best_subset(ctx, members, tail, prefix, leaf, vec, need, target_within_owned, satisfied, valid)
    chosen = tail if choice is None else choice
    for i, c in enumerate(chosen):
        sim.remove(c.leaf, c.vec)
        if choice is not None:  # validated by _works after the prefix and the subset's earlier ones
            c.taken_after = (*prefix, *chosen[:i])
    return prefix + chosen


def _best_subset(ctx, members, tail, prefix, leaf, vec, need, target_within_owned, satisfied, valid):
    """The first subset of ``members`` better than ``tail`` that satisfies q, or None."""
    r, deficit = _bottleneck(ctx, leaf, vec, need, target_within_owned)
    if r is None:
        return None
    k = len(members)
    w = [c.vec[r] for c in members]
    pos = {id(c): i for i, c in enumerate(members)}
    tail_idx = tuple(sorted(pos[id(c)] for c in tail))
    best = (sum(w[i] for i in tail_idx), len(tail_idx))
    # reach[i]: the (amount, count) pairs that members[i:] can make, amounts capped by the tail's.
    reach: list[set] = [set() for _ in range(k + 1)]
    reach[k] = {(0, 0)}
    for i in range(k - 1, -1, -1):
        nxt = reach[i + 1]
        cur = set(nxt)
        for s, n in nxt:
            if s + w[i] <= best[0]:
                cur.add((s + w[i], n + 1))
        if len(cur) > TABLE_LIMIT:
            return None
        reach[i] = cur
    options = sorted(p for p in reach[0] if p[0] >= deficit and p[1] > 0 and p <= best)
    for tries, (s, n) in enumerate(options):
        if tries >= TRIES_LIMIT:
            return None
        idx = []
        for i in range(k):  # lexicographically first index set = newest victims first
            if n and (s - w[i], n - 1) in reach[i + 1]:
                idx.append(i)
                s, n = s - w[i], n - 1
        idx = tuple(idx)
        if idx >= tail_idx and (sum(w[i] for i in idx), len(idx)) == best:
            return None  # nothing left that beats the greedy tail
        subset = [members[i] for i in idx]
        if _works(ctx, subset, prefix, satisfied, valid):
            return subset
    return None


def _works(ctx, subset, prefix, satisfied, valid) -> bool:
    sim = ctx.sim
    done = []
    ok = True
    for c in subset:
        if not valid(c):
            ok = False
            break
        sim.remove(c.leaf, c.vec)
        done.append(c)
    ok = ok and satisfied() and _within_budget(ctx, prefix + subset)
    for c in reversed(done):
        sim.add(c.leaf, c.vec)
    return ok


def _within_budget(ctx, victims) -> bool:
    """Fair-share victims of one plan stay within the window's budget (H3), as in the greedy."""
    if ctx.fs_budget is None:
        return True
    used = list(ctx.fs_used)
    for c in victims:
        if c.cls == "F":
            for r in range(ctx.tree.R):
                used[r] += c.vec[r]
    return all(used[r] <= ctx.fs_budget[r] for r in range(ctx.tree.R))


def _bottleneck(ctx, leaf, vec, need, target_within_owned) -> tuple[int | None, int]:
    """The resource of the binding constraint with the tail put back, and a lower bound on how
    much of it must be freed: one freed unit raises a balance, or lowers a usage, by at most one."""
    tree, sim = ctx.tree, ctx.sim
    hit = sim.fit(leaf, vec)
    probe = sim.probe(leaf, vec)
    path = tree.path[leaf]
    if hit is not None:
        x, r, kind = hit
        i = path.index(x)
        if kind == "max":
            return r, sim.used[x][r] + vec[r] - tree.cap[x][r]
        if x == tree.root:
            return r, -probe[i][r]
        return r, (-tree.bl[x][r] - probe[i][r]) if tree.bl[x][r] < INF else 1
    if target_within_owned:
        for r in need:
            short = max((-probe[i][r] for i, x in enumerate(path) if x != tree.root), default=0)
            if short > 0:
                return r, short
    return None, 0


def shrink(ctx, taken, need, satisfied) -> None:
    """P4 on a minimal victim set (all of it removed from ``ctx.sim``): an elastic victim that
    can stay, smaller, is marked ``shrink_to`` and frees only ``vec`` (the part it gives up)."""
    sim, tree = ctx.sim, ctx.tree
    for c in reversed(taken):
        emin = ctx.requests[c.alloc.request].elastic_min
        if not emin or c.alloc.terminating:
            continue
        room = [0] * tree.R
        for r in need:
            floor = emin.get(tree.config.resources[r], c.vec[r])
            room[r] = max(0, c.vec[r] - floor)
        sim.add(c.leaf, c.vec)
        if not _frees_enough(sim, c.leaf, room, satisfied):
            sim.remove(c.leaf, c.vec)
            continue  # even the elastic minimum frees too little: evict
        freed = room[:]
        for r in need:  # feasibility is per resource: the least to free on each, others at most
            lo, hi = 0, room[r]
            while lo < hi:
                mid = (lo + hi) // 2
                freed[r] = mid
                if _frees_enough(sim, c.leaf, freed, satisfied):
                    hi = mid
                else:
                    lo = mid + 1
            freed[r] = lo
        keep = [c.vec[r] - freed[r] for r in range(tree.R)]
        if not any(keep):
            sim.remove(c.leaf, c.vec)
            continue  # nothing would be left: that is an eviction
        sim.remove(c.leaf, freed)
        c.shrink_to, c.vec = keep, freed


def _frees_enough(sim, leaf, freed, satisfied) -> bool:
    sim.remove(leaf, freed)
    ok = satisfied()
    sim.add(leaf, freed)
    return ok


def shrink_commit(ctx, q, shrunk) -> set[int]:
    """Commit the shrinks of a plan: each allocation keeps ``shrink_to`` and what it gives up
    leaves both ledgers at once.  The engine decides quota, not pods: removing the pods beyond
    the new size, and holding q's pods back until they are gone, is the enactor's job (the
    portal's cycle does both, scheduling/shrinks.py)."""
    tree = ctx.tree
    res = tree.config.resources
    touched = set()
    floor = ctx.victim_index.get("floor")  # victim_views.demand_floor, if this pass computed it
    for c in shrunk:
        a = ctx.allocations[c.alloc.request]
        after = {k: c.shrink_to[tree.rindex[k]] for k in a.demand}
        if floor is not None:
            for r, name in enumerate(res):
                floor[r] = min(floor[r], max(0, after.get(name, 0)))
        ctx.allocations[a.request] = replace(a, demand=after)
        used_before, borrowed_before = victim_side(tree, ctx.sim, c.a_v, c.vec)  # X3, as for an eviction
        ctx.actual.remove(c.leaf, c.vec)
        ctx.sim.remove(c.leaf, c.vec)
        touched.add(c.leaf)
        rule = CLASS_RULE[c.cls]
        used_after, borrowed_after = victim_side(tree, ctx.sim, c.a_v, c.vec)
        facts = {"victim": a.request, "preemptor": q.id, "rule": str(rule), "from": dict(a.demand), "to": after,
                 "freed": {res[r]: c.vec[r] for r in range(tree.R) if c.vec[r]},
                 "victim_node": tree.ids[c.a_v], "lca": tree.ids[c.A],
                 "used_before": used_before, "used_after": used_after, **victim_side_limits(tree, c.a_v, c.vec),
                 "borrowed_before": borrowed_before, "borrowed_after": borrowed_after}
        ctx.emit("SHRINK", rule, request=a.request, preemptor=q.id, facts=facts)
    return touched
