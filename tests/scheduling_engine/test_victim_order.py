"""The indexed, lazy candidate stream (victims.py) yields exactly the candidate order of §10.7.

The reference below is the definition: classify every running allocation of the pass, then sort
all of them by (terminating first, class, DRS of a_v desc, aged priority, admitted desc, created
desc, id desc).  It is what the engine did before the index (benchmark B4) and stays here as the
oracle, like ``naive_*`` for the accounting.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from scheduling.engine import decide, finish, release, submit
from scheduling.engine.allocate import _build_ledgers, _expire, _transfers, accept_new
from scheduling.engine.fairshare import drs
from scheduling.engine.model import BorrowPreempt, State, id_key
from scheduling.engine.passctx import PassCtx
from scheduling.engine.preempt import _advantage
from scheduling.engine.tree import compile_tree
from scheduling.engine.victims import RANK, Candidates

from .strategies import configs, request_batches


def reference(ctx, q, leaf, vec, need, pending_since, only_within, adv):
    tree, sim, s = ctx.tree, ctx.sim, ctx.settings
    node = tree.nodes[leaf]
    reclaim_ok = node.reclaim_policy != "Never"
    bp = node.borrow_preempt
    bp_ok = bp.policy == "LowerPriority" and not s.fair_share_preemption
    fs_ok = s.fair_share_preemption
    within_ok = node.within_policy != "Never"
    elsewhere = not only_within and (adv is not None or bp_ok or fs_ok)
    if not within_ok and not elsewhere:
        return []
    out = []
    for lv in sorted(ctx.by_leaf) if elsewhere else [leaf]:
        same = lv == leaf
        if same and not within_ok:
            continue
        A = lv if same else tree.lca(leaf, lv)
        if not same:
            chain = True
            for x in tree.path[lv]:
                if x == A:
                    break
                if not any(sim.balance(x, r) < 0 for r in need):
                    chain = False
                    break
            if not chain:
                continue
        a_v = lv if same else tree.child_towards(A, lv)
        for aid in ctx.by_leaf.get(lv, []):
            a = ctx.allocations[aid]
            vreq = ctx.requests[a.request]
            if aid in ctx.excluded or aid == q.id or not vreq.preemptible:
                continue
            if not any(tree.vec(a.demand)[r] > 0 for r in need):
                continue
            if same:
                newer = (node.within_policy == "LowerOrNewerEqualPriority" and vreq.priority == q.priority
                         and (vreq.created_at, id_key(vreq.id)) > (q.created_at, id_key(q.id)))
                cls = "W" if vreq.priority < q.priority or newer else None
            elif reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A] and (
                    node.reclaim_policy == "Any" or vreq.priority < q.priority):
                cls = "R"
            elif bp_ok:
                thr = bp.max_priority_threshold
                cls = "B" if vreq.priority < q.priority and (thr is None or vreq.priority <= thr) else None
            else:
                cls = "F" if fs_ok else None
            if cls is not None:
                out.append((a, cls, A, a_v))
    beta = s.preempted_priority_boost
    d = {x[3]: drs(tree, x[3], [sim.balance(x[3], r) for r in range(tree.R)]) for x in out if x[1] != "W"}
    reqs = ctx.requests
    out.sort(key=lambda x: reqs[x[0].request].order[2], reverse=True)
    out.sort(key=lambda x: (0 if x[0].terminating else 1, RANK[x[1]], -d[x[3]] if x[1] != "W" else 0,
                            reqs[x[0].request].priority + beta * ctx.times_preempted(x[0].request),
                            -x[0].admitted_at, -reqs[x[0].request].created_at))
    return [(x[0].request, x[1], x[2], x[3]) for x in out]


def compare_every_pending(config, state, now) -> None:
    tree = compile_tree(config, state.capacity)
    ctx = PassCtx(tree, state, now)
    for step in (_expire, _build_ledgers, accept_new, _transfers):
        step(ctx)
    for rid in sorted(ctx.status, key=id_key):
        if ctx.status[rid].state != "Pending":
            continue
        q = ctx.requests[rid]
        leaf, vec = tree.index[q.leaf], ctx.vec(rid)
        need = [r for r in range(tree.R) if vec[r] > 0]
        adv = _advantage(ctx, leaf, vec, need) if tree.nodes[leaf].reclaim_policy != "Never" else None
        since = ctx.status[rid].pending_since
        for only_within in (False, True):
            want = reference(ctx, q, leaf, vec, need, since, only_within, adv)
            got = [(c.alloc.request, c.cls, c.A, c.a_v)
                   for c in Candidates(ctx, q, leaf, need, since, only_within, adv)]
            assert got == want, (rid, only_within)


@given(config=configs(), data=st.data())
def test_indexed_candidate_stream_equals_the_definitional_sort(config, data):
    """Random streams with evictions, orphans (withdrawn preemptors), releases, borrow-preempt
    and aged priorities; at every instant, every pending request's candidate list is compared
    with the reference."""
    if data.draw(st.booleans()):
        config = replace(config, settings=replace(config.settings, preempted_priority_boost=60), nodes=tuple(
            replace(n, borrow_preempt=BorrowPreempt("LowerPriority", data.draw(st.sampled_from([None, 50]))))
            if n.parent is not None and data.draw(st.booleans()) else n for n in config.nodes))
    state, t, serial = State(), 0, [0]
    for _ in range(12):
        t += data.draw(st.integers(1, 15))
        reserved = sorted(r for r, s in state.status.items() if s.state == "Reserved")
        ids = reserved or sorted(state.requests)
        if ids and data.draw(st.integers(0, 2)) == 0:
            state = finish(state, [data.draw(st.sampled_from(ids))])  # a withdrawn preemptor orphans victims
        due = [a.request for a in state.allocations.values() if a.terminating and a.deadline <= t]
        state = release(state, sorted(due), t)
        state = submit(state, data.draw(request_batches(config, t, serial)))
        state = decide(config, state, t, with_hash=False).state
        compare_every_pending(config, state, t)
