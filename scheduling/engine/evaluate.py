"""One request's verdict within a pass: gates (A4), fit (A5), preference (A6), binding
constraint (A7), and the commit of admissions, reservations and preemption plans (P5, P5b).

A verdict is always one of: admitted (both ledgers charged), reserved behind victims (planning
view charged, victims marked Terminating), or pending with exactly one reason (X2).  In a dry
sweep (``ctx.dry``) any verdict that would change a ledger raises ``WouldProgress`` before
touching anything.
"""

from __future__ import annotations

from . import gates, preempt
from .explain import BINDING_REASON, CLASS_RULE, Reason, admit_facts, victim_side, victim_side_limits
from .fairshare import drs, drs_text
from .model import Allocation, Binding, Decision, Request, Status
from .passctx import PassCtx, WouldProgress
from .reserved_reclaim import SHARED, hand_back_for, settle_handed_back
from .sharing import leaving_needed
from .tree import per_tree
from .waste import shrink_commit
from .wording import message


def _evaluate(ctx: PassCtx, rid: str, leaf: int) -> set[int]:
    """Decide one request; returns the leaves whose balances changed (empty: still Pending).

    A verdict is a function of the pass's working state, which only changes when ``version``
    does (``now`` is fixed for the pass): a request judged Pending at the current version would
    be judged exactly the same again, so re-judging it is skipped."""
    if ctx.judged.get(rid) == ctx.version:
        return _NOTHING
    touched = _judge(ctx, rid, leaf)
    if not touched:
        ctx.judged[rid] = ctx.version
    return touched


_NOTHING: frozenset = frozenset()  # "no balance changed" (callers only test and iterate it)


def _judge(ctx: PassCtx, rid: str, leaf: int) -> set[int]:
    tree, sim = ctx.tree, ctx.sim
    q = ctx.requests[rid]
    vec = ctx.vec(rid)
    st = ctx.status[rid]
    if q.gates:  # A4c two-phase: reserve quota while the checks run (gates.py)
        return gates.judge(ctx, q, leaf, vec, st)
    # The fit test and the binding constraint read only the planning view, the leaf and the
    # demand: requests of one shape at one leaf share them while ``version`` is unchanged (B2:
    # a full cluster judges every pending request against the same ledgers).
    shape = id(vec)  # vectors are interned: one per distinct demand (PassCtx.vec)
    fits = _root_refusal(ctx, leaf, vec, shape) if tree.plain else None
    if fits is None:
        fkey = (ctx.version, leaf, shape)
        fits = ctx.fit_memo.get(fkey)
        if fits is None:
            fits = ctx.fit_memo[fkey] = [sim.fit(leaf, vec), None]
    hit = fits[0]
    if hit is None:
        need = [r for r in range(tree.R) if vec[r] > 0]
        path = tree.path[leaf]
        borrowing = sim.borrowing_top(leaf, vec, need)
        if borrowing is not None:
            h = path[borrowing[0]]
            scope = tree.parent[h]
            if not q.preemptible:
                return _plan_or_pending(ctx, q, leaf, vec, st, Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED,
                                        _binding_at(ctx, leaf, vec, h, need), target_within_owned=True)
            if q.reclaim_grace > tree.lendout_grace[scope]:
                _pending(ctx, rid, Reason.PENDING_GRACE_EXCEEDS_LENDER_SLA, None,
                         {"lender_scope": tree.ids[scope], "grace": tree.lendout_grace[scope]})
                return set()
            if ctx.settings.borrowing_preference == "PreemptOverBorrow" and tree.nodes[leaf].within_policy != "Never":
                _before_planning(ctx)
                out = preempt.plan(ctx, q, leaf, vec, st.pending_since, only_within=True, target_within_owned=True)
                _note_time(ctx, out)
                if out.victims:
                    return _commit(ctx, q, leaf, vec, out.victims)
        # While no plan is open the planning view equals the physical one: one fit test suffices.
        if (ctx.sim_is_actual and not ctx.excluded) or ctx.actual.fit(leaf, vec) is None:
            if borrowing is not None:
                _admit(ctx, q, leaf, vec, Reason.ADMITTED_BORROWING, {}, (path[borrowing[0]], borrowing[1]))
            else:
                _admit(ctx, q, leaf, vec, Reason.ADMITTED_WITHIN_OWNED, {})
            return {leaf}
        return _share(ctx, q, leaf, vec, st)
    if _preemption_free(tree)[leaf]:  # what _plan_or_pending would do, without a memo key (B2, scale L)
        binding = fits[1]
        if binding is None:
            x, r, kind = hit
            binding = fits[1] = _binding(ctx, leaf, vec, x, r, kind)
        _pending(ctx, rid, BINDING_REASON[hit[2]], binding, _NO_DETAIL, st)
        return _NOTHING
    node = tree.nodes[leaf]
    key = None
    if ctx.now - st.pending_since >= max(node.reclaim_delay, node.fairshare_delay):
        # Past every delay the verdict depends only on the request's shape (created_at only
        # matters for LowerOrNewerEqualPriority, the id never: a pending request holds nothing).
        # The version, the leaf and the interned shape name the fit; the rest, the request.
        newer = q.created_at if node.within_policy == "LowerOrNewerEqualPriority" else None
        key = ((ctx.version, leaf, shape), q.priority, q.preemptible, q.reclaim_grace, newer)
        cached = ctx.memo.get(key)
        if cached is not None:
            _pending(ctx, rid, *cached)
            return _NOTHING
    binding = fits[1]
    if binding is None:
        x, r, kind = hit
        binding = fits[1] = _binding(ctx, leaf, vec, x, r, kind)
    kind = hit[2]
    touched = _plan_or_pending(ctx, q, leaf, vec, st, BINDING_REASON[kind], binding,
                               target_within_owned=not q.preemptible)
    if key is not None and not touched:
        after = ctx.status[rid]
        ctx.memo[key] = (after.reason, after.binding, dict(after.detail))
    return touched


def _root_refusal(ctx: PassCtx, leaf: int, vec: list[int], shape: int) -> list | None:
    """In a plain tree the root's capacity is checked first (``Ledger.fit``): when it refuses,
    the fit result is the same at every leaf, and so is the binding wherever nothing on the
    leaf's path limits the resource (``Tree.open_below``).  Such an entry [fit, binding] is
    shared by all those leaves; None sends the caller to the per-leaf memo (B2: on a full
    cluster nearly every verdict is this one)."""
    rkey = (ctx.version, shape)
    entry = ctx.root_refusals.get(rkey, _UNSEEN)
    if entry is _UNSEEN:
        hit = ctx.sim.root_refusal(vec)
        entry = ctx.root_refusals[rkey] = None if hit is None else [hit, None]
    if entry is not None and ctx.tree.open_below[leaf][entry[0][1]]:
        return entry
    return None


_UNSEEN = object()


def _plan_or_pending(ctx, q, leaf, vec, st, reason, binding, *, target_within_owned) -> set[int]:
    if _preemption_free(ctx.tree)[leaf]:
        _pending(ctx, q.id, reason, binding, _NO_DETAIL)
        return _NOTHING
    _before_planning(ctx)
    out = preempt.plan(ctx, q, leaf, vec, st.pending_since, target_within_owned=target_within_owned)
    _note_time(ctx, out)
    if out.victims:
        return _commit(ctx, q, leaf, vec, out.victims)
    handed_back = hand_back_for(ctx, q, leaf, vec, st.pending_since)
    if handed_back:  # q now fits in the planning view: judged again, ahead of them
        touched = _evaluate(ctx, q.id, leaf) | set(handed_back)
        settle_handed_back(ctx)
        return touched
    if out.guarded:  # the last resort: what reclaimed from q's side is all that could be taken
        last = preempt.plan(ctx, q, leaf, vec, st.pending_since, target_within_owned=target_within_owned,
                            take_back=True)
        if last.victims:
            return _commit(ctx, q, leaf, vec, last.victims, taken_back=True)
    if out.reason is not None and reason != Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED:
        _pending(ctx, q.id, out.reason, binding, out.detail)
    else:
        _pending(ctx, q.id, reason, binding, {})
    return set()


_NO_DETAIL: dict = {}  # read only


@per_tree
def _preemption_free(tree) -> list[bool]:
    """Per node: no preemption class can apply to a request of this leaf, so preempt.plan would
    find no candidate and return an empty outcome, and planning is skipped (as B2's
    no-preemption passes mostly do).  The tree's config holds the settings."""
    fair_share = tree.config.settings.fair_share_preemption
    return [n.reclaim_policy == "Never" and n.within_policy == "Never" and n.borrow_preempt.policy == "Never"
            and not fair_share for n in tree.nodes]


def _before_planning(ctx: PassCtx) -> None:
    """The opening sweep of a pass (allocate.run_pass) only looks for a pass where nothing can
    progress; planning is the expensive part of a verdict and would be done again by the
    tournament, so that sweep gives up (as if something progressed) instead of planning."""
    if ctx.dry and ctx.opening:
        raise WouldProgress
    ctx.fork_planning_view()  # planning changes sim alone (transiently)


def _note_time(ctx: PassCtx, out) -> None:
    """A plan, or a reason naming a protection (delay, min runtime, budget, fence), can change
    as time passes with nothing else changing; "no valid victim at all" cannot (incremental.py)."""
    if out.victims or out.reason is not None:
        ctx.time_free = False


def _binding(ctx, leaf, vec, x, r, kind) -> Binding:
    tree, sim = ctx.tree, ctx.sim
    via = sim.lend_blocker(x, r, leaf) if kind == "lend_limit" else None
    # What is available to the leaf depends on the leaf and the resource, not on the shape of the
    # request: it is computed once per planning-view version (as the fit memo is) — and once for
    # all the leaves whose path sets no limit of its own on the resource (tree.open_below).
    akey = (ctx.version, tree.root if tree.open_below[leaf][r] else leaf, r)
    available = ctx.available_memo.get(akey)
    if available is None:
        available = ctx.available_memo[akey] = sim.available(leaf, r)
    # Bindings are values: equal ones are shared across the pass (B2: a full cluster's verdicts
    # mostly name the root's capacity, whatever their leaf).  The node's numbers that explain it
    # are part of the value, read off the ledger here (two list lookups), and only computed into
    # a Binding once per distinct value.
    value = (x, r, kind, available, vec[r], via, sim.used[x][r], sim.usage[x][r],
             None if via is None else sim.usage[via][r])
    b = ctx.bindings.get(value)
    if b is None:
        b = ctx.bindings[value] = _new_binding(ctx, x, r, kind, available, vec[r], via)
    return b


def _new_binding(ctx, x: int, r: int, kind: str, available: int, needed: int, via: int | None) -> Binding:
    """The Binding of a failed fit at node ``x`` with the numbers at ``x`` a tenant admin acts on
    (model.Binding): what the node uses of ``r`` in the planning view and the limit it reached."""
    tree, sim = ctx.tree, ctx.sim
    numbers = {"used": sim.used[x][r]}
    if kind == "max":
        numbers["max"] = tree.cap[x][r]
    else:
        numbers["owned"] = tree.owned[x][r]
        if kind == "borrow_limit":
            numbers["borrow_limit"] = tree.bl[x][r]
        else:  # capacity and lend limit bind at the root only (Ledger.fit): its free capacity
            numbers["free"] = max(0, sim.balance(x, r))
    if via is not None:
        numbers["lender_unused"] = max(0, sim.balance(via, r))
        numbers["lend_limit"] = tree.ll[via][r]
    return Binding(node=tree.ids[x], resource=tree.config.resources[r], available=available, needed=needed,
                   kind=kind, via=tree.ids[via] if via is not None else None, **numbers)


def _binding_at(ctx, leaf, vec, x, need) -> Binding:
    """What keeps a non-preemptible request from borrowing (A4b): the highest node that would
    borrow, the first resource it would borrow, and its use of its owned share."""
    tree, sim = ctx.tree, ctx.sim
    probe = sim.probe(leaf, vec)
    i = tree.depth[leaf] - tree.depth[x]
    r = next((r for r in need if probe[i][r] < 0), need[0])
    return Binding(node=tree.ids[x], resource=tree.config.resources[r], available=max(0, sim.balance(x, r)),
                   needed=vec[r], kind="owned", used=sim.used[x][r], owned=tree.owned[x][r])


def _admit(ctx: PassCtx, q: Request, leaf: int, vec: list[int], reason: Reason, facts: dict,
           borrowing: tuple | None = None, *, reclaim_guard: tuple = ()) -> None:
    """Charge both ledgers.  ``borrowing`` = (node h, its balances after admission — None in a
    plain tree, where they follow from the usage snapshot of the ADMIT decision) for an
    ADMITTED_BORROWING, whose facts (lender scope, borrowed amounts, DRS) are derived from it."""
    if ctx.dry:
        raise WouldProgress
    ctx.actual.add_both(ctx.sim, leaf, vec)
    record_admission(ctx, q, leaf, vec, str(reason), facts, borrowing, reclaim_guard)


def record_admission(ctx: PassCtx, q: Request, leaf: int, vec: list[int], reason: str, facts: dict,
                      borrowing: tuple | None, reclaim_guard: tuple = ()) -> None:
    """What follows the charge of an admission: allocation, status and the ADMIT decision."""
    tree = ctx.tree
    path = tree.path[leaf]
    ctx.version += 1
    rid = q.id
    # The request's demand mapping is shared, not copied: engine mappings are never mutated
    # after construction (model.py), and a pass admits thousands of requests (B2).
    ctx.allocations[rid] = Allocation.new(rid, q.leaf, q.demand, ctx.now, reclaim_guard)
    if ctx._by_leaf is not None:  # else it is built later from the allocations, this one included
        ctx._by_leaf.setdefault(leaf, []).append(rid)
    st = ctx.status[rid]
    detail = () if borrowing is None else (("lender_scope", tree.ids[tree.parent[borrowing[0]]]),)
    # Statuses are values: admissions with equal fields share one (B2, B9).
    value = (reason, st.pending_since, detail, st.times_preempted)
    admitted = ctx.admitted.get(value)
    if admitted is None:
        admitted = ctx.admitted[value] = Status.new("Admitted", reason, st.pending_since, None, (), 0, detail,
                                                    st.times_preempted)
    ctx.status[rid] = admitted
    # The explanation (per-node owned/used before/after) is built only when read; the usage after
    # admission is snapshotted now because the ledger keeps changing during the pass.  A function
    # and its arguments, not a closure: fewer objects per admission for the collector (B2).
    # One flat list (node after node, R values each) rather than a tuple per node.
    after = []
    used = ctx.actual.used
    for x in path[:-1]:  # the explanation stops below the root (explain.admit_facts)
        after += used[x]
    # ``PassCtx.emit`` of an ADMIT, unrolled: a pass at scale M admits about 7,000 requests (B2).
    ctx.decisions.append(Decision.lazy(ctx.now, "ADMIT", reason, rid, None, None, ctx.modifiers, _explain_admission,
                                       (reason, rid, tree, q, vec, path, after, facts, borrowing)))


def _explain_admission(reason: str, rid: str, *facts_args) -> tuple[dict, str]:
    """The facts and message of an ADMIT decision, when first read (``Decision.lazy``)."""
    facts = admit_facts(*facts_args)
    return facts, message("ADMIT", reason, rid, facts)


def _pending(ctx: PassCtx, rid: str, reason: Reason | str, binding: Binding | None, detail: dict,
             st: Status | None = None) -> None:
    """Record the current reason; the PENDING decision is emitted at the end of the pass, and
    only if the reason differs from the one the request entered the pass with (A10).  ``st``:
    the request's current status, when the caller has it at hand."""
    if st is None:
        st = ctx.status[rid]
    reason = str(reason)
    if detail:
        ctx.status[rid] = Status.new("Pending", reason, st.pending_since, binding, (), st.plan_seq,
                                     tuple(sorted(detail.items())), st.times_preempted)
    else:
        # Statuses are values: verdicts with equal fields share one (B2: a full cluster's verdicts
        # mostly repeat).  The memo holds the binding, so its id cannot be reused while it lives.
        value = (reason, id(binding), st.pending_since, st.plan_seq, st.times_preempted)
        shared = ctx.pending_statuses.get(value)
        if shared is None:
            shared = ctx.pending_statuses[value] = (binding, Status.new(
                "Pending", reason, st.pending_since, binding, (), st.plan_seq, (), st.times_preempted))
        ctx.status[rid] = shared[1]
    ctx.touched_from.setdefault(rid, st)


def _bkey(b: Binding | None):
    return None if b is None else (b.node, b.resource, b.kind, b.via)


def reclaim_guard(tree, victims) -> tuple:
    """What the allocation of a request admitted on ``victims`` keeps (model.Allocation): for each
    side it reclaimed owned capacity from (P-R), that side, its own side and the owned vector of
    its own side — which H1 shows to be within owned after the transfer.  Not for fair share
    (P-F): its winner's side still borrows, and owners must be able to reclaim from it (P4)."""
    return tuple(sorted({(tree.ids[c.a_v], tree.ids[c.a_q], tuple(tree.owned[c.a_q]))
                         for c in victims if c.cls == "R"}))


def _commit(ctx: PassCtx, q: Request, leaf: int, vec: list[int], victims, taken_back: bool = False) -> set[int]:
    """P5: victims → Terminating(victim_of=q, deadline), q → Reserved; capacity stays counted in
    ``actual`` until released and is already handed to q in ``sim``."""
    if ctx.dry:
        raise WouldProgress
    ctx.fork_planning_view()
    ctx.sim_is_actual = False
    tree = ctx.tree
    if ctx.audit is not None:
        ctx.audit(ctx, q, leaf, vec, victims)
    guard = reclaim_guard(tree, victims)
    shrunk = [c for c in victims if c.shrink_to is not None]
    if shrunk:
        touched = shrink_commit(ctx, q, shrunk)
        victims = [c for c in victims if c.shrink_to is None]
        if not victims:  # shrinking alone made room, at once: q is admitted on it
            ctx.version += 1
            if ctx.actual.fit(leaf, vec) is None and ctx.sim.fit(leaf, vec) is None:
                _admit(ctx, q, leaf, vec, Reason.ADMITTED_BY_TRANSFER,
                       {"victims": [c.alloc.request for c in shrunk], "shrunk": True}, reclaim_guard=guard)
                return touched
            return touched | _evaluate(ctx, q.id, leaf)  # still needs earlier plans' victims (P5b)
    ctx.plan_seq += 1
    names = [c.alloc.request for c in victims]
    # P5b: the plan may count on room that earlier plans' victims free only in the planning view
    # (a gang evicted whole for a smaller preemptor).  q then waits for those victims too, listed
    # first as their plans come first (sharing.py).  With no victim leaving, sim holds at least
    # what actual does, so q needs none; otherwise some always suffice, since sim without q's
    # victims holds at least actual without them and without every leaving victim.
    waits = (leaving_needed(ctx, leaf, vec, names) or []) + names if ctx.excluded else names
    st = ctx.status[q.id]
    ctx.status[q.id] = Status("Reserved", str(Reason.PENDING_WAITING_FOR_VICTIMS), pending_since=st.pending_since,
                              victims=tuple(waits), plan_seq=ctx.plan_seq, times_preempted=st.times_preempted,
                              detail=(("reclaim_guard", guard),) if guard else ())
    ctx.emit("RESERVE", Reason.PENDING_WAITING_FOR_VICTIMS, request=q.id, facts={"victims": waits})
    touched = {leaf, *(c.leaf for c in shrunk)}
    for c in victims:
        a = ctx.allocations[c.alloc.request]
        vreq = ctx.requests[a.request]
        if not a.terminating:
            ctx.evict(a, q.id, ctx.now + vreq.reclaim_grace)
        ctx.wait_for(a.request, ctx.plan_seq)
        # X3: the victim side's numbers before and after this eviction, in the planning view the
        # plan was made in (earlier victims of the plan already gone, q not yet admitted).
        used_before, borrowed_before = victim_side(tree, ctx.sim, c.a_v, c.vec)
        drs_before = str(drs(tree, c.a_v, [ctx.sim.balance(c.a_v, r) for r in range(tree.R)])) if c.cls == "F" else ""
        ctx.sim.remove(c.leaf, c.vec)
        touched.add(c.leaf)
        rule = CLASS_RULE[c.cls]
        used_after, borrowed_after = victim_side(tree, ctx.sim, c.a_v, c.vec)
        facts = {"victim": a.request, "preemptor": q.id, "rule": str(rule), "victim_node": tree.ids[c.a_v],
                 "lca": tree.ids[c.A], "drs_victim_side": str(drs(tree, c.a_v, [ctx.sim.balance(c.a_v, r)
                                                                                   for r in range(tree.R)])),
                 "used_before": used_before, "used_after": used_after, **victim_side_limits(tree, c.a_v, c.vec),
                 "borrowed_before": borrowed_before, "borrowed_after": borrowed_after}
        if c.cls == "F":  # S2-a/S2-b compare the victim side's DRS with the preemptor side's after q
            facts.update(drs_victim_side_before=drs_before, preemptor_node=tree.ids[c.a_q],
                         drs_preemptor_side=drs_text(tree, c.a_q, ctx.sim.balance_after(leaf, vec, c.a_q)))
        elif c.cls in ("W", "B"):  # taken for a higher priority
            facts.update(victim_priority=vreq.priority, preemptor_priority=q.priority)
        if sum(c.vec) > sum(vec):
            facts["note"] = "WHOLE_GANG"
        if taken_back and any(tree.index.get(side) in tree.path[leaf] for side, _, _ in a.reclaim_guard):
            facts["reclaimed_back"] = True  # P7 gives way to P4 (victims.Candidates._taken_back)
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
    q behind a minimal subset of those victims instead of evicting anything new (sharing.py)."""
    if ctx.dry:
        raise WouldProgress
    ctx.fork_planning_view()
    ctx.sim_is_actual = False
    taken = leaving_needed(ctx, leaf, vec)
    if taken is None:
        _pending(ctx, q.id, Reason.PENDING_WAITING_FOR_VICTIMS, None, {})
        return set()
    ctx.plan_seq += 1
    ctx.status[q.id] = Status("Reserved", str(Reason.PENDING_WAITING_FOR_VICTIMS), pending_since=st.pending_since,
                              victims=tuple(taken), plan_seq=ctx.plan_seq, times_preempted=st.times_preempted,
                              detail=SHARED)
    ctx.shared_reservations[q.id] = None
    ctx.emit("RESERVE", Reason.PENDING_WAITING_FOR_VICTIMS, request=q.id, facts={"victims": taken, "shared": True})
    ctx.sim.add(leaf, vec)
    ctx.version += 1
    return {leaf}
