"""P-R against reservations that evicted nothing: an owner takes back what a shared reservation
(P5b) holds of its owned share in the planning view, at no cost to anything running.

A request that fits in the planning view only thanks to earlier plans' victims is reserved
behind them without evicting anything (evaluate._share); it may borrow, in the planning view,
owned capacity another side does not use yet.  When an owner of that side later wants its
share, owned reclaim (§10.7) finds no victim there: victims are allocations.  It would take a
running allocation of the borrowing side instead — possibly one that had reclaimed from the
owner's side itself (H1 rules that out: ``Allocation.reclaim_guard``) — or wait until the
reservation is admitted and then evict it, past the owner's SLA (P4).  So when a request with an
owned-reclaim advantage finds no plan, borrowing shared reservations are handed back, newest
first, under P-R's own conditions (reclaim policy and delay of the owner's leaf, a(q) strictly
below the lowest common ancestor, the reservation's side borrowing a resource it needs all the
way up to it), until the owner fits in the planning view within owned all the way — then fewer
if fewer suffice.  They evicted nothing, so nothing is lost (P10); they are judged again, after
the owner, in tournament order, and find its room taken.
"""

from __future__ import annotations

from .model import Request, Status
from .passctx import PassCtx, WouldProgress
from .preempt import _advantage
from .sharing import still_leaving

SHARED = (("shared", True),)  # the detail of a reservation that evicted nothing (evaluate._share)


def is_shared(st: Status) -> bool:
    return st.state == "Reserved" and ("shared", True) in st.detail


def hand_back_for(ctx: PassCtx, q: Request, leaf: int, vec: list[int], pending_since: int) -> list[int]:
    """Hand back the shared reservations that keep the owner ``q`` out; their leaves, or [] if
    there are none to hand back, or if without them ``q`` would still not fit, or fit only by
    borrowing somewhere on its path (then a gate — non-preemptible, lender's grace — could still
    refuse it, and the room would only go round: the reservations take it again)."""
    tree = ctx.tree
    node = tree.nodes[leaf]
    shared = [rid for rid in ctx.shared_reservations if is_shared(ctx.status[rid])]
    if (not shared or node.reclaim_policy == "Never" or ctx.now < pending_since + node.reclaim_delay
            or ctx.sim.fit(leaf, vec) is None):
        return []
    need = [r for r in range(tree.R) if vec[r] > 0]
    adv = _advantage(ctx, leaf, vec, need)
    if adv is None:
        return []
    sim, depth = ctx.sim, tree.depth

    def within_owned_fit() -> bool:
        return sim.fit(leaf, vec) is None and sim.borrowing_top(leaf, vec, need) is None

    taken: list[tuple[str, int, list[int]]] = []
    fits = False
    for rid in sorted(shared, key=lambda rid: ctx.status[rid].plan_seq, reverse=True):
        r = ctx.requests[rid]
        lr = tree.index[r.leaf]
        if lr == leaf or (node.reclaim_policy != "Any" and r.priority >= q.priority):
            continue
        A = tree.lca(leaf, lr)
        rvec = ctx.vec(rid)
        if depth[adv] <= depth[A] or not _borrows_up_to(ctx, lr, A, rvec, need):
            continue
        sim.remove(lr, rvec)
        taken.append((rid, lr, rvec))
        if within_owned_fit():
            fits = True
            break
    if fits:  # fill-back: only what q needs goes (the last one taken completed it)
        for entry in taken[:-1]:
            sim.add(entry[1], entry[2])
            if within_owned_fit():
                taken.remove(entry)
            else:
                sim.remove(entry[1], entry[2])
    if not fits or ctx.dry:
        for _, lr, rvec in taken:
            sim.add(lr, rvec)
        if fits:
            raise WouldProgress
        return []
    ctx.version += 1
    for rid, _, _ in taken:
        st = ctx.status[rid]
        ctx.status[rid] = Status("Pending", "", pending_since=st.pending_since, times_preempted=st.times_preempted)
        ctx.touched_from.setdefault(rid, st)
        ctx.handed_back[rid] = q.id
    return [lr for _, lr, _ in taken]


def _borrows_up_to(ctx: PassCtx, lr: int, A: int, rvec: list[int], need: list[int]) -> bool:
    """borrowing chain up to A (excluded), as for an allocation (preempt._chain)."""
    sim = ctx.sim
    for x in ctx.tree.path[lr]:
        if x == A:
            return True
        if not any(rvec[r] > 0 and sim.balance(x, r) < 0 for r in need):
            return False
    return True


def settle_handed_back(ctx: PassCtx) -> None:
    """After a hand-back and the owner's verdict: victims that only handed-back reservations
    waited for are counted in the planning view again, as the next pass will count them (an
    orphan whose plan went away, shared by one of them), and the others keep the lowest
    plan_seq of the reservations still waiting for them (P13: a second pass at this instant
    must find the same planning view)."""
    waiting: dict[str, int] = {}
    for st in ctx.status.values():
        if st.state == "Reserved":
            for v in still_leaving(ctx.allocations, st):
                if v not in waiting or st.plan_seq < waiting[v]:
                    waiting[v] = st.plan_seq
    tree = ctx.tree
    for v in sorted(ctx.excluded - waiting.keys()):
        a = ctx.allocations[v]
        ctx.sim.add(tree.index[a.leaf], tree.vec(a.demand))
        ctx.excluded.discard(v)
        ctx.waited_by.pop(v, None)
    ctx.waited_by.update(waiting)
    ctx.version += 1
