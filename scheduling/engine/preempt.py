"""Rules P: preemption planning for one request that does not fit.

A plan is computed on the pass's simulated ledger (``ctx.sim``: running + orphaned terminating
allocations + reservations of earlier plans, victims of earlier plans already removed — P5b), so
later preemptors see earlier plans and a victim is never selected twice.  The ledger is mutated
while planning and always restored before returning; committing a plan is the caller's job.

Invariants carried by this module:
* plan-or-nothing (H7, P10): a victim set is returned only if, with all of it removed, the
  preemptor fits (and, for ``target_within_owned``, is within owned on its path);
* re-validation (P9): a candidate's class condition is re-checked in the simulated state at the
  moment it would be taken;
* minimality (P8): fill-back in reverse order returns victims whose removal is not needed, and
  because fitting is monotone in removals the result is set-inclusion-minimal;
* owned reclaim (P-R5) ignores fences, min-runtime and the fair-share budget.

Not implemented yet: the waste-aware swap (P2 of §10.7) and elastic shrink (P4 of §10.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .accounting import probe_remove
from .fairshare import drs
from .model import Allocation, Request, id_key

RANK = {"R": 0, "F": 1, "B": 2, "W": 3}
TAG_ORDER = ("delay", "protected", "budget", "fenced")


@dataclass
class Candidate:
    alloc: Allocation
    leaf: int
    vec: list[int]
    cls: str
    A: int
    a_q: int
    a_v: int
    tags: dict[str, int] = field(default_factory=dict)  # tag -> "until" (or 0)


@dataclass
class Outcome:
    victims: list[Candidate] | None = None
    reason: str | None = None  # pending reason if no plan, None = plain capacity reason
    detail: dict = field(default_factory=dict)


def plan(ctx, q: Request, leaf: int, vec: list[int], pending_since: int, *,
         only_within: bool = False, target_within_owned: bool = False) -> Outcome:
    tree = ctx.tree
    node = tree.nodes[leaf]
    s = ctx.settings
    now = ctx.now
    need = [r for r in range(tree.R) if vec[r] > 0]
    cands = _candidates(ctx, q, leaf, vec, need, pending_since, only_within)
    if not cands:
        return Outcome()
    strategies = [("S2a",)] if "S2a" in s.fs_strategies else []
    if "S2b" in s.fs_strategies:
        strategies.append(tuple(s.fs_strategies))
    if not strategies:
        strategies = [()]
    any_valid = False
    # The relaxed round (protections ignored, to name the protection that blocks) can only differ
    # from the strict one when some candidate is protected or the budget may bind.
    may_relax = any(c.tags for c in cands) or (ctx.fs_budget is not None and any(c.cls == "F" for c in cands))
    for relaxed in (False, True) if may_relax else (False,):
        for strat in strategies:
            taken, valid_seen = _greedy(ctx, q, leaf, vec, need, cands, strat, relaxed, target_within_owned)
            any_valid = any_valid or valid_seen
            if taken is None:
                continue
            if not relaxed:
                return Outcome(victims=taken)
            return _blocked(taken, node, pending_since)
    del now
    if any_valid:
        return Outcome(reason="PENDING_NO_VICTIMS", detail={"class_tried": sorted({c.cls for c in cands})})
    return Outcome()


def _blocked(taken: list[Candidate], node, pending_since: int) -> Outcome:
    """A plan exists only if some protection is ignored: report the first protection in
    TAG_ORDER that the plan needed (delay, then min runtime, budget, fence)."""
    for tag in TAG_ORDER:
        used = [c.tags[tag] for c in taken if tag in c.tags]
        if not used:
            continue
        if tag == "delay":
            return Outcome(reason="PENDING_PREEMPTION_DELAY", detail={"until": max(used)})
        if tag == "protected":
            return Outcome(reason="PENDING_FAIRSHARE_PROTECTED", detail={"until": max(used)})
        if tag == "budget":
            return Outcome(reason="PENDING_BUDGET_EXHAUSTED")
        return Outcome(reason="PENDING_NO_VICTIMS", detail={"fenced": True})
    return Outcome(reason="PENDING_NO_VICTIMS")


def _candidates(ctx, q, leaf, vec, need, pending_since, only_within) -> list[Candidate]:
    tree, sim, s, now = ctx.tree, ctx.sim, ctx.settings, ctx.now
    node = tree.nodes[leaf]
    reclaim_ok = node.reclaim_policy != "Never"
    bp = node.borrow_preempt
    bp_ok = bp.policy == "LowerPriority" and not s.fair_share_preemption
    fs_ok = s.fair_share_preemption
    reclaim_until = pending_since + node.reclaim_delay
    fs_until = pending_since + node.fairshare_delay
    fence = tree.fence_of[leaf]
    adv = _advantage(ctx, leaf, vec, need) if reclaim_ok else None
    within_ok = node.within_policy != "Never"
    elsewhere = not only_within and (adv is not None or bp_ok or fs_ok)
    if not within_ok and not elsewhere:
        return []  # no class can apply: skip the scan (benchmark B2 passes without preemption)
    out: list[Candidate] = []
    for lv in sorted(ctx.by_leaf) if elsewhere else [leaf]:
        ids = ctx.by_leaf.get(lv)
        if not ids:
            continue
        same = lv == leaf
        if same:
            if not within_ok:
                continue
        elif not any(sim.balance(lv, r) < 0 for r in need):
            continue  # no borrowing chain can start at a leaf that is not borrowing
        A = lv if same else tree.lca(leaf, lv)
        if not same and not (bp_ok or fs_ok) and tree.depth[adv] <= tree.depth[A]:
            continue  # only owned reclaim could apply, and q's advantage is not below the LCA
        if not same and not _leaf_chain(ctx, lv, A, need):
            continue  # some node between the leaf and the LCA is not borrowing: no class applies
        a_q = leaf if same else tree.child_towards(A, leaf)
        a_v = lv if same else tree.child_towards(A, lv)
        for aid in ids:
            if aid in ctx.excluded or aid == q.id:
                continue
            a = ctx.allocations[aid]
            vreq = ctx.requests[a.request]
            if not vreq.preemptible:
                continue
            vvec = ctx.vec(a.request)
            if not any(vvec[r] > 0 for r in need):
                continue
            c = Candidate(a, lv, vvec, "", A, a_q, a_v)
            if same:
                if vreq.priority < q.priority or (
                    node.within_policy == "LowerOrNewerEqualPriority" and vreq.priority == q.priority
                    and (vreq.created_at, id_key(vreq.id)) > (q.created_at, id_key(q.id))
                ):
                    c.cls = "W"
                else:
                    continue
            elif reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A] and (
                node.reclaim_policy == "Any" or vreq.priority < q.priority
            ):
                c.cls = "R"
                if now < reclaim_until:
                    c.tags["delay"] = reclaim_until
            elif bp_ok or fs_ok:
                if bp_ok:
                    thr = bp.max_priority_threshold
                    if not (vreq.priority < q.priority and (thr is None or vreq.priority <= thr)):
                        continue
                    c.cls = "B"
                else:
                    c.cls = "F"
                    until = a.admitted_at + tree.min_runtime[lv]
                    if now < until:
                        c.tags["protected"] = until
                if now < fs_until:
                    c.tags["delay"] = fs_until
                if fence >= 0 and tree.depth[A] < tree.depth[fence]:
                    c.tags["fenced"] = 0
            else:
                continue
            out.append(c)
    # Candidate order (§10.7): terminating first, class, biggest offender, priority (aged, H8),
    # newest admission, newest creation, id desc.  Sort by id desc first; sorts are stable.
    beta = s.preempted_priority_boost
    # DRS values become dense integer ranks so that sort keys never compare Fractions.
    drs_of: dict[int, Fraction | int] = {}
    for c in out:
        if c.cls != "W" and c.a_v not in drs_of:
            drs_of[c.a_v] = drs(tree, c.a_v, [sim.balance(c.a_v, r) for r in range(tree.R)])
    rank = {v: i for i, v in enumerate(sorted(set(drs_of.values()), reverse=True))}
    reqs = ctx.requests
    out.sort(key=lambda c: reqs[c.alloc.request].order[2], reverse=True)
    out.sort(key=lambda c: (
        0 if c.alloc.terminating else 1, RANK[c.cls], rank[drs_of[c.a_v]] if c.cls != "W" else 0,
        reqs[c.alloc.request].priority + beta * ctx.times_preempted(c.alloc.request),
        -c.alloc.admitted_at, -reqs[c.alloc.request].created_at,
    ))
    return out


def _leaf_chain(ctx, lv: int, A: int, need: list[int]) -> bool:
    """Necessary condition for borrowing chain(v, A) of any v at ``lv``."""
    sim = ctx.sim
    for x in ctx.tree.path[lv]:
        if x == A:
            return True
        if not any(sim.balance(x, r) < 0 for r in need):
            return False
    return True


def _advantage(ctx, leaf, vec, need) -> int | None:
    """a(q): lowest node on the path (root excluded) with B ≥ 0 after adding q (§10.5)."""
    tree = ctx.tree
    probe = ctx.sim.probe(leaf, vec)
    for i, x in enumerate(tree.path[leaf]):
        if x == tree.root:
            return None
        if all(probe[i][r] >= 0 for r in need):
            return x
    return None


def _chain(ctx, c: Candidate, need) -> bool:
    """borrowing chain(v, A): every node from leaf(v) up to A (excluded) borrows a contested
    resource that v uses (K candidateIsValid)."""
    sim = ctx.sim
    for x in ctx.tree.path[c.leaf]:
        if x == c.A:
            return True
        if not any(c.vec[r] > 0 and sim.balance(x, r) < 0 for r in need):
            return False
    return True


def _valid(ctx, c: Candidate, q, leaf, vec, need, strat, relaxed) -> bool:
    if c.cls == "W":
        return True
    if not _chain(ctx, c, need):
        return False
    tree = ctx.tree
    if c.cls == "R":
        adv = _advantage(ctx, leaf, vec, need)
        return adv is not None and tree.depth[adv] > tree.depth[c.A]
    if c.cls == "B":
        return True
    # P-F: S2-a, then (if allowed) S2-b, between the two children of the LCA.
    probe = ctx.sim.probe(leaf, vec)
    dq = drs(tree, c.a_q, probe[tree.depth[leaf] - tree.depth[c.a_q]])
    if "S2a" in strat:
        after = probe_remove(ctx.sim, c.leaf, c.vec, c.a_v)
        if dq * (1 + ctx.settings.fs_epsilon) <= drs(tree, c.a_v, after):
            return True
    if "S2b" in strat:
        cur = [ctx.sim.balance(c.a_v, r) for r in range(tree.R)]
        if dq < drs(tree, c.a_v, cur):
            return True
    return False


def _satisfied(ctx, leaf, vec, need, target_within_owned) -> bool:
    if ctx.sim.fit(leaf, vec) is not None:
        return False
    if target_within_owned:
        probe = ctx.sim.probe(leaf, vec)
        tree = ctx.tree
        for i, x in enumerate(tree.path[leaf]):
            if x != tree.root and any(probe[i][r] < 0 for r in need):
                return False
    return True


def _greedy(ctx, q, leaf, vec, need, cands, strat, relaxed, target_within_owned):
    sim = ctx.sim
    taken: list[Candidate] = []
    valid_seen = False
    budget_used = list(ctx.fs_used)
    done = False
    # Candidates of one leaf with equal demand and class share their validity until the
    # simulated state changes (the next take), so the verdict is memoised between takes.
    memo: dict[tuple, bool] = {}
    for c in cands:
        if not relaxed and c.tags:
            continue
        # Only fair share compares quantities; the other classes depend on which resources v
        # uses (chain), not how much.
        mk = (c.leaf, c.cls, tuple(c.vec) if c.cls == "F" else tuple(x > 0 for x in c.vec))
        ok = memo.get(mk)
        if ok is None:
            ok = memo[mk] = _valid(ctx, c, q, leaf, vec, need, strat, relaxed)
        if not ok:
            continue
        valid_seen = True
        if c.cls == "F" and ctx.fs_budget is not None:
            over = any(budget_used[r] + c.vec[r] > ctx.fs_budget[r] for r in range(ctx.tree.R))
            if over and not relaxed:
                continue
            if over:
                c.tags["budget"] = 0
            for r in range(ctx.tree.R):
                budget_used[r] += c.vec[r]
        sim.remove(c.leaf, c.vec)
        taken.append(c)
        memo.clear()
        if _satisfied(ctx, leaf, vec, need, target_within_owned):
            done = True
            break
    if not done:
        for c in taken:
            sim.add(c.leaf, c.vec)
        return None, valid_seen
    # P3 fill-back, newest choice first; monotonicity makes the remaining set minimal (P8).
    for c in reversed(list(taken)):
        sim.add(c.leaf, c.vec)
        if _satisfied(ctx, leaf, vec, need, target_within_owned):
            taken.remove(c)
        else:
            sim.remove(c.leaf, c.vec)
    for c in taken:
        sim.add(c.leaf, c.vec)
    return taken, valid_seen
