"""Rule D2: optional quota preemption (YuniKorn 1.8), after a node's ``max`` was lowered.

Lowering ``owned`` or ``max`` never evicts by itself: the excess becomes borrowing that owners
reclaim through P-R, and admission keeps the subtree from growing (F2 checks ``max``).  A node may
opt in with ``quota_preemption_delay`` (seconds, 0 = never): once its running usage has stayed
above its ``max`` for that long, the pass evicts from its subtree until U ≤ max, with reason
EVICT_QUOTA_DECREASE and no preemptor (the config change is the cause).

* The clock: ``State.over_max_since`` remembers, per node, the first pass that saw it over its
  max; the entry is dropped as soon as a pass sees it within (the delay restarts from zero).
* Usage counts Running allocations only: Terminating ones are already leaving (evicted earlier by
  this rule or another), so counting them would evict again for the same excess every pass.
* Top-down: nodes nearer the root first (then by id, N2), and each eviction lowers the usage of
  every node on the victim's path, so an inner node's evictions also serve the nodes below it.
* Victims: preemptible Running allocations of the subtree that use an exceeded resource, in the
  §10.7 order (lowest priority incl. the H8 boost, newest admission, newest creation, highest id
  first).  Never below owned: a victim is skipped if its removal would take any node on its path,
  from its leaf up to the node, below that node's (effective) owned on a resource it uses — so the
  result may stay above max when only guaranteed usage is left; the clock then keeps running.
* Victims are marked Terminating with the usual deadline and stay counted until released, like
  every eviction (P1, P5 transfer semantics); their capacity then goes to whoever fits, within max.

It runs in the pass after the reservation transfers and before the tournament.  Admissions
respect max (F2), so the tournament cannot add to an excess, and nothing it decides would change
this rule's verdict.  The reverse is not true: once evicted, a victim is a Terminating allocation
that the pending requests' verdicts see (a preemptor may wait on it, §10.7 order 1).  Run after
the tournament, the rule left those verdicts stale, and a second pass at the same instant changed
them (P13).  Victims that a plan already waits on (``victim_of``) are Terminating and skipped.
"""

from __future__ import annotations

from .explain import Reason
from .model import id_key
from .passctx import PassCtx
from .tree import INF, per_tree

RULE = str(Reason.EVICT_QUOTA_DECREASE)


@per_tree
def _watched(tree) -> list[int]:
    """Nodes that opted in and have a max, top-down (depth, then id): once per compiled tree,
    since a pass at scale XL should not pay a walk over every node for a rule nobody enabled."""
    return sorted((x for x in range(len(tree.ids)) if tree.nodes[x].quota_preemption_delay > 0
                   and any(c < INF for c in tree.cap[x])), key=lambda x: (tree.depth[x], id_key(tree.ids[x])))


def run(ctx: PassCtx, over_max_since: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """Evict where due; returns the new ``over_max_since`` (empty when no node is over)."""
    tree = ctx.tree
    watched = _watched(tree)
    if not watched:
        return ()
    R = tree.R
    used = [[0] * R for _ in tree.ids]
    for a in ctx.allocations.values():
        if not a.terminating:
            vec = tree.vec(a.demand)
            for x in tree.path[tree.index[a.leaf]]:
                row = used[x]
                for r in range(R):
                    row[r] += vec[r]
    since = dict(over_max_since)
    out: dict[str, int] = {}
    for x in watched:
        if not any(used[x][r] > tree.cap[x][r] for r in range(R)):
            continue
        node = tree.nodes[x]
        start = since.get(node.id, ctx.now)
        if ctx.now - start >= node.quota_preemption_delay:
            _evict(ctx, x, used)
        if any(used[x][r] > tree.cap[x][r] for r in range(R)):
            out[node.id] = start
    if out:
        ctx.time_free = False  # a running clock: the next pass's verdict depends on time
    return tuple(sorted(out.items(), key=lambda kv: id_key(kv[0])))


def _evict(ctx: PassCtx, x: int, used: list[list[int]]) -> None:
    tree = ctx.tree
    R = tree.R
    beta = ctx.settings.preempted_priority_boost
    below = [a for a in ctx.allocations.values() if not a.terminating and x in tree.path[tree.index[a.leaf]]
             and ctx.requests[a.request].preemptible]
    below.sort(key=lambda a: id_key(a.request), reverse=True)
    below.sort(key=lambda a: (ctx.requests[a.request].priority + beta * ctx.times_preempted(a.request),
                              -a.admitted_at, -ctx.requests[a.request].created_at))
    for a in below:
        over = [r for r in range(R) if used[x][r] > tree.cap[x][r]]
        if not over:
            break
        vec = tree.vec(a.demand)
        if not any(vec[r] for r in over):
            continue
        leaf = tree.index[a.leaf]
        upto = tree.path[leaf][: tree.path[leaf].index(x) + 1]
        if any(used[y][r] - vec[r] < tree.owned[y][r] for y in upto for r in range(R) if vec[r]):
            continue  # never below owned
        before = list(used[x])
        for y in tree.path[leaf]:
            for r in range(R):
                used[y][r] -= vec[r]
        _commit(ctx, a, x, before, list(used[x]))


def _commit(ctx: PassCtx, a, x: int, before: list[int], after: list[int]) -> None:
    tree = ctx.tree
    grace = ctx.requests[a.request].reclaim_grace
    ctx.evict(a, None, ctx.now + grace)
    res = tree.config.resources
    node = tree.nodes[x]
    facts = {"victim": a.request, "rule": RULE, "node": node.id, "victim_node": a.leaf,
             "max": {res[r]: tree.cap[x][r] for r in range(tree.R) if tree.cap[x][r] < INF},
             "used_before": dict(zip(res, before, strict=True)), "used_after": dict(zip(res, after, strict=True)),
             "delay": node.quota_preemption_delay}
    ctx.emit("EVICT", Reason.EVICT_QUOTA_DECREASE, victim=a.request, facts=facts)
