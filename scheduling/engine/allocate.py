"""Rules A: one allocation pass over a working copy of the state.

Two ledgers are kept while a pass runs:

* ``actual`` counts what holds capacity physically: Running and Terminating allocations.  Every
  admission must fit here, which is what makes capacity safety (P1) hold at every instant,
  including while victims are still terminating.
* ``sim`` is the planning view: ``actual`` minus the victims of active plans plus the demand of
  every Reserved preemptor.  Every admission must fit here too, so capacity freed by victims can
  only ever go to their preemptor (P5 reservation transfer, H6) and later preemptors plan on top
  of earlier plans (P5b).

Selection is a tournament from the root down (A3) with cached per-node winners: an admission at a
leaf only changes balances on that leaf's path, and a child's tournament key depends only on its
own subtree, so only the touched paths are re-keyed.
"""

from __future__ import annotations

from dataclasses import replace

from .accounting import Ledger
from .evaluate import _admit, _bkey, _evaluate, _pending
from .explain import Reason, binding_facts
from .fairshare import drs
from .model import Status, id_key
from .passctx import PassCtx, WouldProgress
from .tree import Tree, compile_tree


def run_pass(ctx: PassCtx) -> None:
    _expire(ctx)
    _build_ledgers(ctx)
    _accept_new(ctx)
    _transfers(ctx)
    # A request judged early in a pass saw less usage than the pass ends with, so its reason (or
    # even its fate: a plan may become possible) can differ on the final state.  Re-run the
    # tournament over what is still pending until nothing changes; then a second pass at the
    # same instant finds exactly this fixed point and decides nothing (A10, property P13).
    # The re-check runs first as a cheap dry sweep on the final state; only if it finds that
    # something would now be admitted or planned does a full tournament run again.
    start = {rid: (st.state, st.reason, _bkey(st.binding), st.detail) for rid, st in ctx.status.items()}
    progressed = _tournament(ctx)
    while progressed and _would_progress(ctx):
        progressed = _tournament(ctx)
    for rid in sorted(ctx.pending_touched, key=id_key):
        st = ctx.status[rid]
        if st.state == "Pending" and start.get(rid) != (st.state, st.reason, _bkey(st.binding), st.detail):
            facts = dict(st.detail, binding=binding_facts(st.binding))
            ctx.emit("PENDING", st.reason, request=rid, facts=facts)


# ---------------------------------------------------------------- A1, ledgers, submissions


def release_allocation(status: dict, allocations: dict, aid: str, now: int) -> None:
    """A victim's pods are gone: drop the allocation and requeue the request (Pending again, as
    Kubernetes recreates an evicted workload).  Reason "" forces a fresh PENDING decision."""
    a = allocations.pop(aid)
    st = status.get(a.request)
    if st is not None and a.terminating:
        status[a.request] = Status("Pending", "", pending_since=now, times_preempted=st.times_preempted + 1)


def _expire(ctx: PassCtx) -> None:
    slack = ctx.settings.release_slack
    due = [aid for aid, a in ctx.allocations.items()
           if a.terminating and a.deadline is not None and a.deadline + slack <= ctx.now]
    for aid in sorted(due, key=id_key):
        a = ctx.allocations[aid]
        ctx.by_leaf[ctx.tree.index[a.leaf]].remove(aid)
        release_allocation(ctx.status, ctx.allocations, aid, ctx.now)


def _would_progress(ctx: PassCtx) -> bool:
    """Re-judge every pending request on the current state without changing it (A8 order per
    leaf, StrictFIFO blocking included); True as soon as one would make progress."""
    tree = ctx.tree
    queues: dict[int, list[str]] = {}
    for rid, st in ctx.status.items():
        if st.state == "Pending":
            queues.setdefault(tree.index[ctx.requests[rid].leaf], []).append(rid)
    ctx.dry = True
    try:
        for leaf in sorted(queues):
            waiting = sorted(queues[leaf], key=lambda rid: ctx.requests[rid].order)
            for i, rid in enumerate(waiting):
                _evaluate(ctx, rid, leaf)
                if ctx.status[rid].state == "Pending" and tree.nodes[leaf].queueing == "StrictFIFO":
                    for rest in waiting[i + 1:]:
                        _pending(ctx, rest, Reason.PENDING_STRICT_FIFO_BLOCKED, None, {"by": rid})
                    break
    except WouldProgress:
        return True
    finally:
        ctx.dry = False
    return False


def _still_leaving(allocations: dict, victim: str) -> bool:
    """Victims are named by request id; a released victim may be admitted again later, and
    that new Running allocation is not the one the plan waits for."""
    a = allocations.get(victim)
    return a is not None and a.terminating


def _build_ledgers(ctx: PassCtx) -> None:
    tree = ctx.tree
    ctx.actual = Ledger(tree)
    for a in ctx.allocations.values():
        ctx.actual.add(tree.index[a.leaf], tree.vec(a.demand))
    ctx.sim = ctx.actual.clone()
    ctx.excluded = set()
    for rid, st in ctx.status.items():
        if st.state != "Reserved":
            continue
        for v in st.victims:
            if _still_leaving(ctx.allocations, v) and v not in ctx.excluded:
                ctx.excluded.add(v)
                a = ctx.allocations[v]
                ctx.sim.remove(tree.index[a.leaf], tree.vec(a.demand))
        ctx.sim.add(tree.index[ctx.requests[rid].leaf], ctx.vec(rid))


def _accept_new(ctx: PassCtx) -> None:
    tree = ctx.tree
    nominal = compile_tree(ctx.config)  # V5 uses nominal capacity: degradation is temporary
    for rid in sorted((r for r, st in ctx.status.items() if st.state == "New"), key=id_key):
        q = ctx.requests[rid]
        unknown = sorted(r for r in q.demand if r not in tree.rindex)
        if unknown:
            _reject(ctx, rid, Reason.REJECT_UNKNOWN_RESOURCE, {"resources": unknown})
            continue
        leaf = tree.index.get(q.leaf)
        if leaf is None or not tree.is_leaf[leaf] or any(v < 0 for v in q.demand.values()):
            _reject(ctx, rid, Reason.REJECT_NEVER_FITS, {"leaf": q.leaf})
            continue
        bad = _never_fits(nominal, leaf, ctx.vec(rid))
        if bad is not None:
            _reject(ctx, rid, Reason.REJECT_NEVER_FITS, {"binding": bad, "potential": bad["available"]})
            continue
        ctx.status[rid] = Status("Pending", "", pending_since=ctx.now)


def _never_fits(tree: Tree, leaf: int, vec: list[int]) -> dict | None:
    for r in range(tree.R):
        if vec[r] > tree.potential[leaf][r]:
            # The binding node is the highest node on the path whose own potential is this low.
            node = leaf
            for x in tree.path[leaf]:
                if tree.potential[x][r] == tree.potential[leaf][r]:
                    node = x
                else:
                    break
            return {"node": tree.ids[node], "resource": tree.config.resources[r],
                    "available": tree.potential[leaf][r], "needed": vec[r]}
    return None


def _reject(ctx: PassCtx, rid: str, reason: Reason, facts: dict) -> None:
    ctx.status[rid] = Status("Rejected", str(reason), detail=tuple(sorted(facts.items())))
    ctx.emit("REJECT", reason, request=rid, facts=facts)


# ---------------------------------------------------------------- transfers (P5, A3.1)


def _transfers(ctx: PassCtx) -> None:
    reserved = sorted((st.plan_seq, rid) for rid, st in ctx.status.items() if st.state == "Reserved")
    for _, rid in reserved:
        st = ctx.status[rid]
        if any(_still_leaving(ctx.allocations, v) for v in st.victims):
            continue
        q = ctx.requests[rid]
        leaf = ctx.tree.index[q.leaf]
        vec = ctx.vec(rid)
        ctx.sim.remove(leaf, vec)
        if ctx.actual.fit(leaf, vec) is None and ctx.sim.fit(leaf, vec) is None:
            _admit(ctx, q, leaf, vec, Reason.ADMITTED_BY_TRANSFER, {"victims": list(st.victims)})
        else:  # the world changed under the plan (capacity drop, config): plan again
            ctx.status[rid] = replace(st, state="Pending", reason="", victims=())


# ---------------------------------------------------------------- tournament (A2, A3, A8, A9)


def _tournament(ctx: PassCtx) -> bool:
    """One tournament over the Pending requests; True if anything was admitted or reserved."""
    tree = ctx.tree
    progressed = False
    n = len(tree.ids)
    queues: dict[int, list[str]] = {}
    for rid, st in ctx.status.items():
        if st.state == "Pending":
            queues.setdefault(tree.index[ctx.requests[rid].leaf], []).append(rid)
    for waiting in queues.values():
        waiting.sort(key=lambda rid: ctx.requests[rid].order)
    pos = dict.fromkeys(queues, 0)
    blocked: dict[int, str] = {}
    nominee: list[str | None] = [None] * n
    key: list[tuple | None] = [None] * n

    def compute(x: int) -> None:
        if tree.is_leaf[x]:
            qq = queues.get(x)
            nom = qq[pos[x]] if qq and pos[x] < len(qq) and x not in blocked else None
        else:
            best = None
            for c in tree.children[x]:
                if nominee[c] is not None and (best is None or key[c] < key[best]):
                    best = c
            nom = nominee[best] if best is not None else None
        nominee[x] = nom
        if nom is not None and x != tree.root:
            key[x] = _level_key(ctx, x, nom)

    for x in sorted(range(n), key=lambda i: -tree.depth[i]):
        compute(x)
    while nominee[tree.root] is not None:
        rid = nominee[tree.root]
        leaf = tree.index[ctx.requests[rid].leaf]
        touched = _evaluate(ctx, rid, leaf)
        progressed = progressed or bool(touched)
        pos[leaf] += 1
        if ctx.status[rid].state == "Pending" and tree.nodes[leaf].queueing == "StrictFIFO":
            blocked[leaf] = rid
        for t in sorted(touched | {leaf}):
            for x in tree.path[t]:
                compute(x)
    for leaf, by in sorted(blocked.items()):
        for rid in queues[leaf][pos[leaf]:]:
            _pending(ctx, rid, Reason.PENDING_STRICT_FIFO_BLOCKED, None, {"by": by})
    return progressed


def _level_key(ctx: PassCtx, c: int, rid: str) -> tuple:
    """Tournament key of child ``c`` whose nominee is ``rid`` (A3 items 2–7)."""
    tree = ctx.tree
    q = ctx.requests[rid]
    leaf = tree.index[q.leaf]
    vec = ctx.vec(rid)
    nb = ctx.sim.balance_after(leaf, vec, c)
    within = all(nb[r] >= 0 for r in range(tree.R) if vec[r] > 0)
    return (0 if within else 1, -tree.nodes[c].share_tier, drs(tree, c, nb)) + q.order


# ---------------------------------------------------------------- one request (A4–A7, P)
