"""P8, P9 and H7 for every preemption plan, judged before the engine commits it (``decide``'s
``audit`` hook), against the rule texts of §10.5, §10.7 and §10.8.

The audit recomputes what it needs from scratch (balances by the F1 recursion, DRS with
``fairshare.drs``, exact Fractions) on the planning view the plan started from.  P9 judges each
victim "in the simulated state at selection time": the start view minus the victims taken
before it, which the engine records on each candidate (``Candidate.taken_after``) because
fill-back (P3) may have put some of them back — then that state differs from the start view
minus the final victims listed before it (a P-F victim may hold S2-b only while an earlier,
later put back, victim is out).  The record is not taken on trust: the victims and every
candidate taken then put back must form one sequence of taking, each of its candidates legal
in its own selection-time state; the put back ones are judged like victims.
Conditions that do not depend on the state (priorities, policies, delays, fences, minimum
runtime, budget) are checked as the rules state them.
"""

from __future__ import annotations

from fractions import Fraction

from scheduling.engine.accounting import naive_balances
from scheduling.engine.fairshare import drs
from scheduling.engine.model import id_key


class View:
    """Leaf usage of a planning view, with balances recomputed from scratch (F1)."""

    def __init__(self, tree, usage: dict[int, list[int]]):
        self.tree, self.usage = tree, usage
        self._B = None

    @classmethod
    def of(cls, tree, ledger) -> View:
        return cls(tree, {x: ledger.used[x][:] for x in range(len(tree.ids)) if tree.is_leaf[x]})

    @property
    def B(self) -> list[list[int]]:
        if self._B is None:
            self._B = naive_balances(self.tree, self.usage)[0]
        return self._B

    def plus(self, leaf: int, vec: list[int], sign: int = 1) -> View:
        usage = {x: u[:] for x, u in self.usage.items()}
        cur = usage.setdefault(leaf, [0] * self.tree.R)
        for r, q in enumerate(vec):
            cur[r] += sign * q
        return View(self.tree, usage)

    def advantage(self, leaf: int, vec: list[int], need: list[int]) -> int | None:
        """a(q) (§10.5): the lowest path node, root excluded, with B ≥ 0 after adding q."""
        after = self.plus(leaf, vec).B
        tree = self.tree
        for x in tree.path[leaf]:
            if x == tree.root:
                return None
            if all(after[x][r] >= 0 for r in need):
                return x
        return None

    def within_owned(self, leaf: int, vec: list[int], need: list[int]) -> bool:
        """within_owned(q) (§10.5): after adding q no path node but the root borrows."""
        after = self.plus(leaf, vec).B
        return all(after[x][r] >= 0 for x in self.tree.path[leaf] if x != self.tree.root for r in need)

    def chain(self, vleaf: int, A: int, uses: list[int], need: list[int]) -> bool:
        """borrowing chain(v, A) (§10.5): every node from leaf(v) up to A (excluded) borrows a
        resource that v uses and the preemptor needs."""
        B = self.B
        for x in self.tree.path[vleaf]:
            if x == A:
                return True
            if not any(uses[r] > 0 and B[x][r] < 0 for r in need):
                return False
        return False  # A is not above leaf(v)


def plan_auditor(problems: list[str], seen: dict[str, int] | None = None):
    """The ``audit`` hook: appends every broken rule to ``problems``; counts the victims of each
    class in ``seen`` (so that a test can tell which rules its stream really exercised)."""

    def audit(ctx, q, leaf, vec, victims):
        tree = ctx.tree
        need = [r for r in range(tree.R) if vec[r] > 0]
        start = View.of(tree, ctx.sim)
        _admissible_and_minimal(ctx, q, leaf, vec, need, victims, problems)
        pending_since = ctx.status[q.id].pending_since
        sequence = _taking_sequence(q, victims, problems)
        kept = {id(c) for c in victims}
        view = start
        for c in sequence:
            found = _victim_problems(ctx, q, leaf, vec, need, c, view, start, pending_since)
            if id(c) in kept:
                if seen is not None:
                    seen[c.cls] = seen.get(c.cls, 0) + 1
                problems.extend(found)
            else:
                problems.extend(f"{p} (taken, then put back by fill-back)" for p in found)
            # What left the simulated state when c was taken: all of it, even if P4 later shrank c.
            view = view.plus(c.leaf, tree.vec(c.alloc.demand), -1)
        problems.extend(_budget_problems(ctx, q, victims))

    return audit


def _taking_sequence(q, victims, problems) -> list:
    """Every candidate the plan took, in order of taking: the last victim's record of what was
    taken before it, then itself.  Each candidate's own record must be the sequence before it,
    and the victims a subsequence in their listed order, or the selection-time states the
    records stand for are not those of one walk."""
    if not victims:
        return []
    sequence = [*victims[-1].taken_after, victims[-1]]
    position = {id(c): i for i, c in enumerate(sequence)}
    coherent = len(position) == len(sequence) and all(
        len(c.taken_after) == i and all(a is b for a, b in zip(c.taken_after, sequence, strict=False))
        for i, c in enumerate(sequence))
    listed = [position.get(id(c), -1) for c in victims]
    if not coherent or min(listed) < 0 or listed != sorted(listed):
        problems.append(f"P9: victims of {q.id} do not come from one sequence of taking "
                        f"({[c.alloc.request for c in sequence]} vs {[c.alloc.request for c in victims]})")
    return sequence


def _admissible_and_minimal(ctx, q, leaf, vec, need, victims, problems) -> None:
    """H7/P10: q fits (and is within owned when it must be) once all victims are gone; P8: not
    without any one of them."""
    tree, sim = ctx.tree, ctx.sim
    target_within = sim.fit(leaf, vec) is None or not q.preemptible

    def ok(removed) -> bool:
        led = sim.clone()
        for c in removed:
            led.remove(c.leaf, c.vec)
        if led.fit(leaf, vec) is not None:
            return False
        if target_within:
            probe = led.probe(leaf, vec)
            return all(probe[i][r] >= 0 for i, x in enumerate(tree.path[leaf]) if x != tree.root for r in need)
        return True

    if not ok(victims):
        problems.append(f"P10/H7: plan for {q.id} does not make it admissible")
    for c in victims:
        if ok([o for o in victims if o is not c]):
            problems.append(f"P8: victim {c.alloc.request} of {q.id} is not needed")


def _victim_problems(ctx, q, leaf, vec, need, c, view: View, start: View, pending_since: int) -> list[str]:
    tree, now, s = ctx.tree, ctx.now, ctx.settings
    node = tree.nodes[leaf]
    vreq = ctx.requests[c.alloc.request]
    name = f"{vreq.id} (for {q.id})"
    out = []
    if not vreq.preemptible:
        out.append(f"P9: non-preemptible victim {name}")
    if c.alloc.request in ctx.excluded:
        out.append(f"P5b: victim {name} selected twice")
    if c.shrink_to is not None:  # P4: never below the elastic minimum, never a no-op
        floor = {r: vreq.elastic_min.get(r, d) for r, d in c.alloc.demand.items()}
        if any(c.shrink_to[tree.rindex[r]] < f for r, f in floor.items()) or not any(c.vec):
            out.append(f"P4: shrink of {name} to {c.shrink_to} breaks its elastic minimum")
    if c.cls == "W":
        return out + _within_leaf_problems(node, q, vreq, c, leaf, name)
    A = tree.lca(leaf, c.leaf)
    if c.leaf == leaf or (c.A, c.a_q, c.a_v) != (A, tree.child_towards(A, leaf), tree.child_towards(A, c.leaf)):
        out.append(f"P9: {name} of class {c.cls} is misplaced (LCA {tree.ids[c.A]}, expected {tree.ids[A]})")
        return out
    uses = tree.vec(c.alloc.demand)  # c.vec is only the shrunk-off part for a shrink (P4)
    if not view.chain(c.leaf, A, uses, need):
        out.append(f"P9: {name} has no borrowing chain to {tree.ids[A]}")
    reclaim_allowed = node.reclaim_policy == "Any" or (
        node.reclaim_policy == "LowerPriority" and vreq.priority < q.priority)
    if c.cls == "R":
        if not reclaim_allowed:
            out.append(f"P-R: {name} reclaimed under reclaim_policy {node.reclaim_policy} "
                       f"(priorities {vreq.priority} vs {q.priority})")
        if now - pending_since < node.reclaim_delay:
            out.append(f"H4: {name} reclaimed before the reclaim delay")
        adv = view.advantage(leaf, vec, need)
        if adv is None or tree.depth[adv] <= tree.depth[A]:
            out.append(f"P-R: {name}: the advantage node is not below the LCA {tree.ids[A]}")
        return out
    # P-B and P-F: "not P-R" (judged, as the engine classifies, on the state the plan started from).
    adv = start.advantage(leaf, vec, need)
    if reclaim_allowed and now - pending_since >= node.reclaim_delay and adv is not None \
            and tree.depth[adv] > tree.depth[A]:
        out.append(f"P9: {name} taken as {c.cls} although owned reclaim applies")
    if now - pending_since < node.fairshare_delay:
        out.append(f"H4: {name} taken before the fair-share delay")
    fence = tree.fence_of[leaf]
    if fence >= 0 and tree.depth[A] < tree.depth[fence]:
        out.append(f"P9: fenced victim {name}")
    if c.cls == "B":
        thr = node.borrow_preempt.max_priority_threshold
        if node.borrow_preempt.policy != "LowerPriority" or s.fair_share_preemption:
            out.append(f"P-B: {name} under borrow_preempt {node.borrow_preempt.policy}, fair share "
                       f"{s.fair_share_preemption}")
        if not vreq.priority < q.priority or (thr is not None and vreq.priority > thr):
            out.append(f"P-B: {name}: priority {vreq.priority} vs {q.priority}, threshold {thr}")
        return out
    if not s.fair_share_preemption:
        out.append(f"P-F: {name} with fair-share preemption off")
    if now - c.alloc.admitted_at < tree.min_runtime[c.leaf]:
        out.append(f"P9/H5: protected victim {name}")
    if not fair_share_holds(tree, s, view, leaf, vec, c.a_q, c.leaf, c.vec, c.a_v):
        out.append(f"P-F: {name}: neither S2-a nor S2-b holds between {tree.ids[c.a_q]} and {tree.ids[c.a_v]}")
    return out


def _within_leaf_problems(node, q, vreq, c, leaf, name) -> list[str]:
    if c.leaf != leaf:
        return [f"P9: within-leaf victim {name} in another leaf"]
    policy = node.within_policy
    lower = vreq.priority < q.priority
    newer_equal = vreq.priority == q.priority and (vreq.created_at, id_key(vreq.id)) > (q.created_at, id_key(q.id))
    if policy == "Never" or not (lower or (policy == "LowerOrNewerEqualPriority" and newer_equal)):
        return [f"P-W: {name} under within_policy {policy} (priorities {vreq.priority} vs {q.priority})"]
    return []


def fair_share_holds(tree, s, view: View, leaf: int, vec: list[int], a_q: int, vleaf: int, vvec: list[int],
                     a_v: int) -> bool:
    """S2-a: DRS(a_q + q)·(1+ε) ≤ DRS(a_v − v), or S2-b: DRS(a_q + q) < DRS(a_v), as far as the
    settings' strategies go (§10.7, §10.8), for q (``vec`` at ``leaf``) and v (``vvec`` at ``vleaf``)."""
    with_q = drs(tree, a_q, view.plus(leaf, vec).B[a_q])
    victim_side = drs(tree, a_v, view.B[a_v])
    without_v = drs(tree, a_v, view.plus(vleaf, vvec, -1).B[a_v])
    s2a = "S2a" in s.fs_strategies and Fraction(with_q) * (1 + s.fs_epsilon) <= without_v
    s2b = "S2b" in s.fs_strategies and with_q < victim_side
    return s2a or s2b


def _budget_problems(ctx, q, victims) -> list[str]:
    """H3: fair-share evictions of the window, this plan's included, stay within the budget."""
    budget = ctx.settings.fs_budget
    if budget is None or not any(c.cls == "F" for c in victims):
        return []
    tree, window = ctx.tree, ctx.settings.fs_budget_window
    used = [0] * tree.R
    for t, amounts in ctx.fs_history:
        if t > ctx.now - window:
            for r, amount in amounts:
                used[tree.rindex[r]] += amount
    for c in victims:
        if c.cls == "F":
            used = [u + v for u, v in zip(used, c.vec, strict=True)]
    limit = [int(budget * tree.owned[tree.root][r]) for r in range(tree.R)]
    if any(u > m for u, m in zip(used, limit, strict=True)):
        return [f"H3: plan for {q.id} takes the fair-share evictions of the window to {used} over {limit}"]
    return []
