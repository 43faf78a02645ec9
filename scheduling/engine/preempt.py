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
* owned reclaim (P-R5) ignores fences, min-runtime and the fair-share budget;
* no waste: within the band where the greedy walk stopped, the tail is swapped for the subset
  that over-reclaims least (P2), and elastic victims are shrunk instead of evicted when that is
  enough (P4) — both in waste.py.

Candidates come from victims.py, which indexes them so that a plan only touches borrowing
subtrees (benchmark B4); the per-pass views it keeps of the simulated state (victim_views.py)
serve validation here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import waste
from .accounting import probe_remove
from .fairshare import drs_key, ratio_pair
from .model import Request
from .victim_views import all_protected, demand_floor, fair_share_impossible, view_dq, view_node
from .victims import RANK, Candidate, Candidates

TAG_ORDER = ("delay", "protected", "budget", "fenced")


@dataclass
class Outcome:
    victims: list[Candidate] | None = None
    reason: str | None = None  # pending reason if no plan, None = plain capacity reason
    detail: dict = field(default_factory=dict)
    guarded: bool = False  # a reclaim guard kept some allocation out (victims.Candidates._taken_back)

    def verdict(self) -> Outcome:
        """A copy without victims, to share among requests planned alike (``plan``'s memo)."""
        return Outcome(reason=self.reason, detail=dict(self.detail), guarded=self.guarded)


def plan(ctx, q: Request, leaf: int, vec: list[int], pending_since: int, *,
         only_within: bool = False, target_within_owned: bool = False, take_back: bool = False) -> Outcome:
    """The plan for ``q``, or why there is none.  Outcomes without victims are shared by the
    requests that would be planned identically (``_same_plan_key``) until the planning view
    changes: a full cluster plans the same few shapes at every leaf over and over (B10)."""
    key = _same_plan_key(ctx, q, leaf, vec, pending_since, only_within, target_within_owned)
    if key is None or take_back:
        return _plan(ctx, q, leaf, vec, pending_since, only_within, target_within_owned, take_back)
    memo = ctx.victim_index.get("plans")
    if memo is None or memo[0] != ctx.version:
        memo = ctx.victim_index["plans"] = (ctx.version, {})
    got = memo[1].get(key)
    if got is not None:
        return got.verdict()
    out = _plan(ctx, q, leaf, vec, pending_since, only_within, target_within_owned)
    if not out.victims:
        memo[1][key] = out.verdict()
    return out


def _same_plan_key(ctx, q: Request, leaf: int, vec: list[int], pending_since: int, only_within: bool,
                   target_within_owned: bool) -> tuple | None:
    """What a plan reads of its request, at one planning-view version (``ctx.version``; ``now``
    is fixed for the pass): the leaf, the demand, the priority (P-W, P-B), the round's flags;
    ``pending_since`` only while a delay still runs (it then dates the delay tags); creation and
    id only under LowerOrNewerEqualPriority (P-W).  Not the grace, gates or preemptibility (the
    caller passes ``target_within_owned``), which the verdict memo of evaluate.py keys on.
    None: not shared — ``q`` holds an allocation, which ``Candidates`` must skip by its id."""
    if q.id in ctx.allocations:
        return None
    node = ctx.tree.nodes[leaf]
    delayed = ctx.now - pending_since < max(node.reclaim_delay, node.fairshare_delay)
    newer = q.order if node.within_policy == "LowerOrNewerEqualPriority" else None
    return (leaf, tuple(vec), q.priority, only_within, target_within_owned, pending_since if delayed else None, newer)


def _plan(ctx, q: Request, leaf: int, vec: list[int], pending_since: int, only_within: bool,
          target_within_owned: bool, take_back: bool = False) -> Outcome:
    tree = ctx.tree
    node = tree.nodes[leaf]
    need = [r for r in range(tree.R) if vec[r] > 0]
    adv = _advantage(ctx, leaf, vec, need) if node.reclaim_policy != "Never" else None
    cands = Candidates(ctx, q, leaf, need, pending_since, only_within, adv, take_back)
    out = _walk_rounds(ctx, q, leaf, vec, pending_since, target_within_owned, cands, node, need)
    out.guarded = cands.guarded and not out.victims
    return out


def _walk_rounds(ctx, q: Request, leaf: int, vec: list[int], pending_since: int, target_within_owned: bool,
                 cands: Candidates, node, need: list[int]) -> Outcome:
    s = ctx.settings
    if cands.hopeless(vec):
        # No candidate can be valid before the first take, so none is ever taken and every
        # round below would end with nothing valid seen: the same empty outcome, without the
        # walk over all running allocations (benchmark B10: many pending, few possible plans).
        return Outcome()
    if not cands:
        return Outcome()
    strategies = [("S2a",)] if "S2a" in s.fs_strategies else []
    if "S2b" in s.fs_strategies:
        strategies.append(tuple(s.fs_strategies))
    if not strategies:
        strategies = [()]
    any_valid = False
    # A strict round that can take nothing walks past every group and sees nothing valid.
    for strat in strategies if not cands.strict_futile(vec) else ():
        taken, valid_seen = _greedy(ctx, q, leaf, vec, need, cands, strat, False, target_within_owned)
        any_valid = any_valid or valid_seen
        if taken is not None:
            return Outcome(victims=taken)
    # No plan.  The relaxed round (protections ignored, to name the protection that blocks) can
    # only differ from the strict one when the budget may bind or some candidate is protected
    # (the cheaper test first: it only opens the first fair-share group).
    if (ctx.fs_budget is not None and cands.has_class("F")) or cands.any_tagged():
        for strat in strategies:
            taken, valid_seen = _greedy(ctx, q, leaf, vec, need, cands, strat, True, target_within_owned)
            any_valid = any_valid or valid_seen
            if taken is not None:
                return _blocked(taken, node, pending_since)
    if any_valid:
        return Outcome(reason="PENDING_NO_VICTIMS",
                       detail={"class_tried": sorted(cands.classes())})
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


def _advantage(ctx, leaf, vec, need) -> int | None:
    """a(q): lowest node on the path (root excluded) with B ≥ 0 after adding q (§10.5)."""
    tree = ctx.tree
    if tree.plain:  # B(x) after adding q is SQ − usage − demand at every path node
        usage, sq = ctx.sim.usage, tree.sq
        for x in tree.path[leaf]:
            if x == tree.root:
                return None
            ux, sqx = usage[x], sq[x]
            if all(sqx[r] - ux[r] - vec[r] >= 0 for r in need):
                return x
        return None
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
    """The class condition of ``c`` in the simulated state as it is now (P9 re-validation)."""
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
    # P-F: S2-a, then (if allowed) S2-b, between the two children of the LCA.  Exact integer
    # keys (fairshare.drs_key) instead of Fractions: this runs for every candidate of every
    # pending request on a full cluster (benchmark B10).
    dq = view_dq(ctx, leaf, vec, c.a_q)
    cur = view_node(ctx, c.a_v)[1]
    eps = ctx.settings.fs_epsilon
    # Both strategies need DRS(a_q + q) ≤ DRS(a_v): S2-b strictly, S2-a because removing v only
    # lowers DRS(a_v) and ε ≥ 0.  Most failing candidates stop here, before probing the removal.
    if eps.numerator >= 0 and dq[0] * cur[1] > cur[0] * dq[1]:
        return False
    if "S2b" in strat and dq[0] * cur[1] < cur[0] * dq[1]:
        return True  # S2-b holds; S2-a (tried first in the rule) could only also say yes
    if "S2a" in strat:
        after = ratio_pair(drs_key(tree, c.a_v, probe_remove(ctx.sim, c.leaf, c.vec, c.a_v)))
        # dq · (1 + ε) ≤ DRS(a_v − v), cross-multiplied
        if dq[0] * (eps.denominator + eps.numerator) * after[1] <= after[0] * dq[1] * eps.denominator:
            return True
    return False


def _dead_groups(ctx, leaf: int, vec: list[int], strat: tuple, relaxed: bool, budget_used: list[int],
                 cands: Candidates, taken: list):
    """For ``Candidates.walk``: a group none of whose candidates the walk could take now is
    skipped whole — nothing would be taken while walking it, so the state stays the one judged,
    and skipping changes nothing but the time spent (benchmark B10).  That is a P-F group whose
    members are all impossible for this round's strategies (``fair_share_impossible``), and in
    a strict round (protections kept) also a group whose candidates are all tagged (``_make``:
    the delay runs, the level is fenced, every leaf's oldest allocation is still protected) or,
    for P-F, all over the budget (even the pass's least demand would exceed it).  A valid but
    skipped candidate only matters through ``valid_seen``, which the relaxed round that then
    follows (budget set, P-F present) sees anyway."""
    tree, now = ctx.tree, ctx.now
    path, depth = tree.path[leaf], tree.depth
    s2a, s2b = "S2a" in strat, "S2b" in strat
    rank_f, rank_r, rank_b = RANK["F"], RANK["R"], RANK["B"]
    fence = tree.fence_of[leaf]
    delayed = now < cands.fs_until
    budget = ctx.fs_budget
    floor = demand_floor(ctx) if budget is not None else None
    # Before the first take every round of the plan starts from the same state: the verdicts
    # of its groups are shared between rounds of the same kind (strict or not, strategies).
    start = cands.dead_at_start
    # Whether a member can hold a fair-share candidate at all depends on the view, a_q and q's
    # shape (and, with lend limits, q's leaf): in the state every plan starts from, plans of one
    # version share the answer (in a sweep, those of every leaf below one a_q).
    shape = tuple(vec) if tree.plain else (leaf, tuple(vec))
    shared = ctx.victim_index.get("impossible")
    if shared is None or shared[0] != ctx.version:
        shared = ctx.victim_index["impossible"] = (ctx.version, {})
    shared = shared[1]
    over = [None, -1]  # the budget is spent even for the least demand; as of len(taken)

    def spent() -> bool:
        if over[1] != len(taken):
            over[0] = any(u + d > b for u, d, b in zip(budget_used, floor, budget, strict=True))
            over[1] = len(taken)
        return over[0]

    def tagged(a_v: int, A: int, f: bool) -> bool:
        if delayed or (fence >= 0 and depth[A] < depth[fence]):
            return True
        if not f:
            return False
        if budget is not None and spent():
            return True
        return all_protected(ctx, a_v)

    def judge(key, members) -> bool:
        rank = key[0]
        if rank == rank_r:
            return not relaxed and now < cands.reclaim_until
        if rank == rank_b:
            return not relaxed and all(tagged(a_v, A, False) for a_v, A, _ in members)
        if rank != rank_f:
            return False
        for a_v, A, _ in members:
            if not relaxed and tagged(a_v, A, True):
                continue
            if not impossible(a_v, path[depth[leaf] - depth[A] - 1]):
                return False
        return True

    def impossible(a_v: int, a_q: int) -> bool:
        k = (a_v, a_q, shape, s2a, s2b)
        got = None if taken else shared.get(k)
        if got is None:
            dq = view_dq(ctx, leaf, vec, a_q)
            balance, cur = view_node(ctx, a_v)
            got = fair_share_impossible(ctx, dq, cur, a_v, balance, s2a, s2b)
            if not taken:
                shared[k] = got
        return got

    def dead(key, members) -> bool:
        if taken:
            return judge(key, members)
        k = (id(members), relaxed, s2a, s2b)
        got = start.get(k)
        if got is None:
            got = start[k] = judge(key, members)
        return got

    return dead


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
    cands.removed = taken  # lets the stream see the plan's starting state when it opens a group
    valid_seen = False
    budget_used = list(ctx.fs_used)
    stop = None
    # Candidates of one leaf with equal demand and class share their validity until the
    # simulated state changes (the next take), so the verdict is memoised between takes — and,
    # before the first take, between the rounds of one strategy (``_valid`` does not depend on
    # the round being relaxed).
    memo: dict = cands.valid_at_start.setdefault(strat, {})
    budget = ctx.fs_budget
    dead = _dead_groups(ctx, leaf, vec, strat, relaxed, budget_used, cands, taken)
    for seg, i, c in cands.walk(dead, not relaxed, taken):
        if not relaxed and c.tags:
            continue
        over = budget is not None and c.cls == "F" and any(
            u + d > b for u, d, b in zip(budget_used, c.vec, budget, strict=True))
        if over and not relaxed:
            # Skipped unjudged: a strict round takes no candidate over the budget.  Whether it
            # was valid only matters through ``valid_seen``, and the relaxed round of the same
            # strategy, which follows (budget set, P-F present), walks it too from the same
            # start and sees it valid or has taken a valid candidate before it.
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
        if over:
            c.tags["budget"] = 0
        if budget is not None and c.cls == "F":
            for r in range(ctx.tree.R):
                budget_used[r] += c.vec[r]
        sim.remove(c.leaf, c.vec)
        c.taken_after = tuple(taken)
        taken.append(c)
        memo = {}
        if _satisfied(ctx, leaf, vec, need, target_within_owned):
            stop = (seg, i)
            break
    if stop is None:
        for c in taken:
            sim.add(c.leaf, c.vec)
        cands.removed = []
        return None, valid_seen

    def satisfied() -> bool:
        return _satisfied(ctx, leaf, vec, need, target_within_owned)

    if not relaxed:  # P2: a relaxed round only names a protection, its victims are never taken
        taken = waste.swap_tail(ctx, *stop, taken, leaf, vec, need, target_within_owned, satisfied,
                                lambda c: _valid(ctx, c, q, leaf, vec, need, strat, False))
    # P3 fill-back, newest choice first; monotonicity makes the remaining set minimal (P8).
    for c in reversed(list(taken)):
        sim.add(c.leaf, c.vec)
        if satisfied():
            taken.remove(c)
        else:
            sim.remove(c.leaf, c.vec)
    if not relaxed:
        waste.shrink(ctx, taken, need, satisfied)  # P4
    for c in taken:
        sim.add(c.leaf, c.vec)
    cands.removed = []
    return taken, valid_seen
