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

from . import preempt
from .accounting import Ledger
from .explain import BINDING_REASON, CLASS_RULE, DEGRADED_CAPACITY, Reason, binding_facts, message
from .fairshare import drs
from .model import Allocation, Binding, Decision, Request, State, Status, id_key
from .tree import INF, Tree, compile_tree


class PassCtx:
    def __init__(self, tree: Tree, state: State, now: int, audit=None):
        self.audit = audit  # test hook: called with every plan before it is committed
        self.tree = tree
        self.config = tree.config
        self.settings = tree.config.settings
        self.now = now
        self.requests = dict(state.requests)
        self.status = dict(state.status)
        self.allocations = dict(state.allocations)
        self.plan_seq = state.plan_seq
        self.decisions: list[Decision] = []
        self.modifiers = (DEGRADED_CAPACITY,) if tree.degraded else ()
        self.fs_history = list(state.fs_history)
        self.vecs: dict[str, list[int]] = {}
        self.pending_touched: set[str] = set()
        # Equivalence classes (K KEP-9694): requests of one leaf with the same shape get the same
        # verdict while the planning view is unchanged; ``version`` counts its changes.
        self.version = 0
        self.memo: dict[tuple, tuple] = {}
        self.dry = False  # set during the settling sweep: any progress raises _Progress
        self.by_leaf: dict[int, list[str]] = {}
        reqs = self.requests
        for aid in sorted(self.allocations, key=lambda a: reqs[a].order[2]):  # cached natural id order
            self.by_leaf.setdefault(tree.index[self.allocations[aid].leaf], []).append(aid)
        window = self.settings.fs_budget_window
        self.fs_used = [0] * tree.R
        for t, amounts in self.fs_history:
            if t > now - window:
                for r, q in amounts:
                    if r in tree.rindex:
                        self.fs_used[tree.rindex[r]] += q
        b = self.settings.fs_budget
        self.fs_budget = None if b is None else [
            int(b * tree.owned[tree.root][r]) for r in range(tree.R)]

    def vec(self, rid: str) -> list[int]:
        v = self.vecs.get(rid)
        if v is None:
            v = self.vecs[rid] = self.tree.vec(self.requests[rid].demand)
        return v

    def times_preempted(self, rid: str) -> int:
        st = self.status.get(rid)
        return st.times_preempted if st else 0

    def emit(self, action: str, reason: str, *, request=None, victim=None, preemptor=None, facts=None) -> None:
        facts = facts or {}
        self.decisions.append(Decision(
            time=self.now, action=action, reason=str(reason), request=request, victim=victim, preemptor=preemptor,
            facts=facts, modifiers=self.modifiers, message=message(action, reason, request, facts)))


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


class _Progress(Exception):
    """Raised in a dry sweep where a real pass would admit, reserve or evict."""


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
    except _Progress:
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


def _evaluate(ctx: PassCtx, rid: str, leaf: int) -> set[int]:
    """Decide one request; returns the leaves whose balances changed."""
    tree, sim = ctx.tree, ctx.sim
    q = ctx.requests[rid]
    vec = ctx.vec(rid)
    need = [r for r in range(tree.R) if vec[r] > 0]
    st = ctx.status[rid]
    if q.gates:
        _pending(ctx, rid, Reason.PENDING_GATES, None, {"gates": list(q.gates)})
        return set()
    hit = sim.fit(leaf, vec)
    if hit is None:
        probe = sim.probe(leaf, vec)
        path = tree.path[leaf]
        borrowing = [i for i, x in enumerate(path) if x != tree.root and any(probe[i][r] < 0 for r in need)]
        if borrowing:
            h = path[borrowing[-1]]
            scope = tree.parent[h]
            if not q.preemptible:
                return _plan_or_pending(ctx, q, leaf, vec, st, Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED,
                                        _binding_at(ctx, leaf, vec, h, need), target_within_owned=True)
            if q.reclaim_grace > tree.lendout_grace[scope]:
                _pending(ctx, rid, Reason.PENDING_GRACE_EXCEEDS_LENDER_SLA, None,
                         {"lender_scope": tree.ids[scope], "grace": tree.lendout_grace[scope]})
                return set()
            if ctx.settings.borrowing_preference == "PreemptOverBorrow" and tree.nodes[leaf].within_policy != "Never":
                out = preempt.plan(ctx, q, leaf, vec, st.pending_since, only_within=True, target_within_owned=True)
                if out.victims:
                    return _commit(ctx, q, leaf, vec, out.victims)
        if ctx.actual.fit(leaf, vec) is None:
            if borrowing:
                h = path[borrowing[-1]]
                hi = borrowing[-1]
                borrowed = {tree.config.resources[r]: min(vec[r], -probe[hi][r]) for r in need if probe[hi][r] < 0}
                facts = {"lender_scope": tree.ids[tree.parent[h]], "borrowed": borrowed,
                         "drs_after": str(drs(tree, h, probe[hi]))}
                _admit(ctx, q, leaf, vec, Reason.ADMITTED_BORROWING, facts)
            else:
                _admit(ctx, q, leaf, vec, Reason.ADMITTED_WITHIN_OWNED, {})
            return {leaf}
        return _share(ctx, q, leaf, vec, st)
    node = tree.nodes[leaf]
    key = None
    if ctx.now - st.pending_since >= max(node.reclaim_delay, node.fairshare_delay):
        # Past every delay the verdict depends only on the request's shape (created_at only
        # matters for LowerOrNewerEqualPriority, the id never: a pending request holds nothing).
        newer = q.created_at if node.within_policy == "LowerOrNewerEqualPriority" else None
        key = (ctx.version, leaf, tuple(vec), q.priority, q.preemptible, q.reclaim_grace, newer)
        cached = ctx.memo.get(key)
        if cached is not None:
            _pending(ctx, rid, *cached)
            return set()
    x, r, kind = hit
    binding = _binding(ctx, leaf, vec, x, r, kind)
    touched = _plan_or_pending(ctx, q, leaf, vec, st, BINDING_REASON[kind], binding,
                               target_within_owned=not q.preemptible)
    if key is not None and not touched:
        after = ctx.status[rid]
        ctx.memo[key] = (after.reason, after.binding, dict(after.detail))
    return touched


def _plan_or_pending(ctx, q, leaf, vec, st, reason, binding, *, target_within_owned) -> set[int]:
    out = preempt.plan(ctx, q, leaf, vec, st.pending_since, target_within_owned=target_within_owned)
    if out.victims:
        return _commit(ctx, q, leaf, vec, out.victims)
    if out.reason is not None and reason != Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED:
        _pending(ctx, q.id, out.reason, binding, out.detail)
    else:
        _pending(ctx, q.id, reason, binding, {})
    return set()


def _binding(ctx, leaf, vec, x, r, kind) -> Binding:
    tree = ctx.tree
    via = ctx.sim.lend_blocker(x, r) if kind == "lend_limit" else None
    return Binding(node=tree.ids[x], resource=tree.config.resources[r], available=ctx.sim.available(leaf, r),
                   needed=vec[r], kind=kind, via=tree.ids[via] if via is not None else None)


def _binding_at(ctx, leaf, vec, x, need) -> Binding:
    probe = ctx.sim.probe(leaf, vec)
    i = ctx.tree.depth[leaf] - ctx.tree.depth[x]
    r = next((r for r in need if probe[i][r] < 0), need[0])
    return Binding(node=ctx.tree.ids[x], resource=ctx.tree.config.resources[r],
                   available=max(0, ctx.sim.balance(x, r)), needed=vec[r], kind="owned")


def _admit(ctx: PassCtx, q: Request, leaf: int, vec: list[int], reason: Reason, facts: dict) -> None:
    if ctx.dry:
        raise _Progress
    tree = ctx.tree
    before = {tree.ids[x]: list(ctx.actual.used[x]) for x in tree.path[leaf]}
    ctx.actual.add(leaf, vec)
    ctx.sim.add(leaf, vec)
    ctx.version += 1
    ctx.allocations[q.id] = Allocation(q.id, q.leaf, dict(q.demand), admitted_at=ctx.now)
    ctx.by_leaf.setdefault(leaf, []).append(q.id)
    st = ctx.status[q.id]
    ctx.status[q.id] = Status("Admitted", str(reason), pending_since=st.pending_since,
                              times_preempted=st.times_preempted, detail=tuple(sorted(
                                  (k, v) for k, v in facts.items() if k == "lender_scope")))
    res = tree.config.resources
    facts = dict(facts, leaf=q.leaf, path=[tree.ids[x] for x in tree.path[leaf]], per_node={
        tree.ids[x]: {"owned": dict(zip(res, tree.owned[x], strict=True)),
                      "used_before": dict(zip(res, before[tree.ids[x]], strict=True)),
                      "used_after": dict(zip(res, ctx.actual.used[x], strict=True))}
        for x in tree.path[leaf]})
    ctx.emit("ADMIT", reason, request=q.id, facts=facts)


def _pending(ctx: PassCtx, rid: str, reason: Reason | str, binding: Binding | None, detail: dict) -> None:
    """Record the current reason; the PENDING decision is emitted at the end of the pass, and
    only if the reason differs from the one the request entered the pass with (A10)."""
    st = ctx.status[rid]
    ctx.status[rid] = replace(st, state="Pending", reason=str(reason), binding=binding, victims=(),
                              detail=tuple(sorted(detail.items())))
    ctx.pending_touched.add(rid)


def _bkey(b: Binding | None):
    return None if b is None else (b.node, b.resource, b.kind, b.via)


def _commit(ctx: PassCtx, q: Request, leaf: int, vec: list[int], victims) -> set[int]:
    """P5: victims → Terminating(victim_of=q, deadline), q → Reserved; capacity stays counted in
    ``actual`` until released and is already handed to q in ``sim``."""
    if ctx.dry:
        raise _Progress
    tree = ctx.tree
    if ctx.audit is not None:
        ctx.audit(ctx, q, leaf, vec, victims)
    ctx.plan_seq += 1
    names = [c.alloc.request for c in victims]
    st = ctx.status[q.id]
    ctx.status[q.id] = Status("Reserved", str(Reason.PENDING_WAITING_FOR_VICTIMS), pending_since=st.pending_since,
                              victims=tuple(names), plan_seq=ctx.plan_seq, times_preempted=st.times_preempted)
    ctx.emit("RESERVE", Reason.PENDING_WAITING_FOR_VICTIMS, request=q.id, facts={"victims": names})
    touched = {leaf}
    for c in victims:
        a = ctx.allocations[c.alloc.request]
        vreq = ctx.requests[a.request]
        if not a.terminating:
            ctx.allocations[a.request] = replace(a, terminating=True, victim_of=q.id,
                                                 deadline=ctx.now + vreq.reclaim_grace)
        ctx.excluded.add(a.request)
        ctx.sim.remove(c.leaf, c.vec)
        touched.add(c.leaf)
        rule = CLASS_RULE[c.cls]
        facts = {"victim": a.request, "preemptor": q.id, "rule": str(rule), "victim_node": tree.ids[c.a_v],
                 "lca": tree.ids[c.A], "drs_victim_side": str(drs(tree, c.a_v, [ctx.sim.balance(c.a_v, r)
                                                                                   for r in range(tree.R)]))}
        if sum(c.vec) > sum(vec):
            facts["note"] = "WHOLE_GANG"
        ctx.emit("EVICT", rule, victim=a.request, preemptor=q.id, facts=facts)
        if c.cls == "F":
            res = tree.config.resources
            ctx.fs_history.append((ctx.now, tuple((res[r], c.vec[r]) for r in range(tree.R) if c.vec[r])))
            for r in range(tree.R):
                ctx.fs_used[r] += c.vec[r]
    ctx.sim.add(leaf, vec)
    ctx.version += 1
    return touched


def _share(ctx: PassCtx, q: Request, leaf: int, vec: list[int], st: Status) -> set[int]:
    """P5b: q fits in the planning view only because earlier plans' victims are leaving: reserve
    q behind a minimal subset of those victims instead of evicting anything new."""
    if ctx.dry:
        raise _Progress
    actual = ctx.actual
    tree = ctx.tree
    pool = sorted(ctx.excluded, key=lambda v: (ctx.status[ctx.allocations[v].victim_of].plan_seq
                                               if ctx.allocations[v].victim_of in ctx.status else INF, id_key(v)))
    taken = []
    for v in pool:
        a = ctx.allocations[v]
        actual.remove(tree.index[a.leaf], tree.vec(a.demand))
        taken.append(v)
        if actual.fit(leaf, vec) is None:
            break
    ok = actual.fit(leaf, vec) is None
    if ok:
        for v in reversed(list(taken)):
            a = ctx.allocations[v]
            actual.add(tree.index[a.leaf], tree.vec(a.demand))
            if actual.fit(leaf, vec) is None:
                taken.remove(v)
            else:
                actual.remove(tree.index[a.leaf], tree.vec(a.demand))
    for v in taken:
        a = ctx.allocations[v]
        actual.add(tree.index[a.leaf], tree.vec(a.demand))
    if not ok:
        _pending(ctx, q.id, Reason.PENDING_WAITING_FOR_VICTIMS, None, {})
        return set()
    ctx.plan_seq += 1
    ctx.status[q.id] = Status("Reserved", str(Reason.PENDING_WAITING_FOR_VICTIMS), pending_since=st.pending_since,
                              victims=tuple(taken), plan_seq=ctx.plan_seq, times_preempted=st.times_preempted)
    ctx.emit("RESERVE", Reason.PENDING_WAITING_FOR_VICTIMS, request=q.id, facts={"victims": taken, "shared": True})
    ctx.sim.add(leaf, vec)
    ctx.version += 1
    return {leaf}
