"""Rule A4c: external gates (admission checks) are two-phase, as Kueue's AdmissionChecks.

Phase one, while a request still carries ``gates``: if it would be admitted now (it fits in the
planning view ``sim`` and passes A4a/A4b) its quota is **reserved** — charged in ``sim`` so nobody
else can take it, but not in ``actual``: nothing runs yet.  Room in ``sim`` that ``actual`` still
lacks is capacity of other plans' victims that no preemptor was promised; it is free once they
leave, and phase two then waits for them as any request does (P5b).  Its status is
``Reserved`` with reason ``PENDING_GATES``, no victims, and facts ``gates`` and
``quota_reserved``.  A gated request that does not fit stays Pending with its ordinary reason and
binding plus the gates in its facts, and reserves nothing.

Phase two, after ``engine.clear_gates``: the next pass judges it first, in reservation order with
the preemptors' transfers (A3.1), by the ordinary path — it fits, since its own charge is what
kept the room free — and admits it with its ordinary reason.

Choices, and why:

* A gated request never triggers preemption.  Evictions cannot be undone, and whether the checks
  ever pass is up to someone else; evicting for it would break plan-or-nothing (P10: every eviction
  belongs to a preemptor that becomes admitted).  Once its gates clear it is an ordinary request
  and may reclaim or preempt like any other.
* A reservation within owned is held across passes: nobody could reclaim that capacity anyway —
  as long as the owned quantities it was taken within are still in force (a config change or a
  capacity drop may shrink them); otherwise it is decided again like a borrowing one.
  A reservation that **borrows** is handed back at the start of every pass and taken again in
  tournament order.  A reservation is not an allocation, so owned reclaim (P-R) could never pick
  it as a victim; re-deciding it each pass lets an owner's within-owned request, which wins its
  tournament level first (A3.2), have its owned share back (the P4 SLA) instead of waiting on
  someone else's checks.  The re-taken reservation emits no decision when nothing changed (A10).
* A withdrawn (finished) gated request frees its reservation simply because the next pass
  rebuilds ``sim`` from the statuses it finds.
* Within one pass, a borrowing reservation is taken at the gated request's turn in a tournament,
  on the planning view of that moment.  When anything else progresses in the pass (an admission
  or a plan), the next pass, which hands the reservation back first, judges the requests ranked
  above it on a different view: one judged before a plan freed room may now take that room, and
  a second pass at one instant would decide something (P13).  So a pass ends the way the next
  one begins: once nothing else progresses, the borrowing reservations it took are handed back
  and taken again by one more tournament on the final state (allocate.run_pass, ``retake``).  The RESERVE decision of
  a reservation new to the pass is emitted at the pass's end, when it is known to be kept.
"""

from __future__ import annotations

from dataclasses import replace

from .explain import BINDING_REASON, Reason
from .model import Request, Status
from .passctx import PassCtx, WouldProgress

GATED = str(Reason.PENDING_GATES)


def is_gate_reservation(st: Status) -> bool:
    return st.state == "Reserved" and st.reason == GATED


def judge(ctx: PassCtx, q: Request, leaf: int, vec: list[int], st: Status) -> set[int]:
    """Phase one for a gated Pending request; returns the leaves whose planning view changed."""
    from .evaluate import _binding, _binding_at, _pending  # evaluate imports this module

    tree, sim = ctx.tree, ctx.sim
    gates = {"gates": list(q.gates)}
    hit = sim.fit(leaf, vec)
    if hit is None:
        top = _borrowing_top(ctx, leaf, vec)
        if top is not None:  # borrowing: A4b, then A4a, exactly as an ungated admission
            scope = tree.parent[top]
            if not q.preemptible:
                need = [r for r in range(tree.R) if vec[r] > 0]
                _pending(ctx, q.id, Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED, _binding_at(ctx, leaf, vec, top, need),
                         gates)
                return set()
            if q.reclaim_grace > tree.lendout_grace[scope]:
                _pending(ctx, q.id, Reason.PENDING_GRACE_EXCEEDS_LENDER_SLA, None,
                         dict(gates, lender_scope=tree.ids[scope], grace=tree.lendout_grace[scope]))
                return set()
        _reserve(ctx, q, leaf, vec, st, borrowing=top is not None)
        return {leaf}
    x, r, kind = hit
    _pending(ctx, q.id, BINDING_REASON[kind], _binding(ctx, leaf, vec, x, r, kind), gates)
    return set()


def _borrowing_top(ctx: PassCtx, leaf: int, vec: list[int]) -> int | None:
    """The highest node below the root that would borrow with ``vec`` added, None if within owned."""
    tree = ctx.tree
    need = [r for r in range(tree.R) if vec[r] > 0]
    probe = ctx.sim.probe(leaf, vec)
    path = tree.path[leaf]
    return next((path[i] for i in reversed(range(len(path))) if path[i] != tree.root
                 and any(probe[i][r] < 0 for r in need)), None)


def _reserve(ctx: PassCtx, q: Request, leaf: int, vec: list[int], st: Status, *, borrowing: bool) -> None:
    if ctx.dry:
        raise WouldProgress
    ctx.fork_planning_view()
    ctx.sim_is_actual = False  # sim now holds what actual does not
    ctx.sim.add(leaf, vec)
    ctx.version += 1
    seq = ctx.gate_held.get(q.id)
    if seq is None:
        ctx.plan_seq += 1
        seq = ctx.plan_seq
        ctx.gate_new.append(q.id)  # its RESERVE decision comes at the end of the pass, if still held
    if borrowing:
        ctx.gate_borrowed.append(q.id)
    detail = {"gates": list(q.gates), "quota_reserved": True, "borrowing": borrowing}
    if not borrowing:
        detail["owned_when_reserved"] = _owned_basis(ctx, leaf, vec)
    ctx.touched_from.setdefault(q.id, st)
    ctx.status[q.id] = Status("Reserved", GATED, pending_since=st.pending_since, plan_seq=seq,
                              times_preempted=st.times_preempted, detail=tuple(sorted(detail.items())))


def retake(ctx: PassCtx, since: int) -> bool:
    """If anything but gate reservations progressed after the pass's first ``since`` decisions,
    hand back the borrowing reservations taken meanwhile, for one more tournament on the final
    state to take them again in its order (see the module docstring).  False when there is
    nothing to hand back.  Without progress they were taken on the state the next pass starts
    from, in the order it takes them: nothing to do (and a pass that only re-takes held
    reservations costs one tournament)."""
    taken = [rid for rid in ctx.gate_borrowed if is_gate_reservation(ctx.status[rid])]
    ctx.gate_borrowed.clear()
    if len(ctx.decisions) == since:
        return False
    for rid in taken:
        _hand_back(ctx, rid, ctx.status[rid])
    return bool(taken)


def emit_reservations(ctx: PassCtx) -> None:
    """RESERVE decisions for the reservations first taken in this pass and still held, in the
    order they were first taken (A10: re-taking a held one is no news)."""
    for rid in ctx.gate_new:
        st = ctx.status[rid]
        if is_gate_reservation(st):
            ctx.emit("RESERVE", Reason.PENDING_GATES, request=rid, facts=dict(st.detail, leaf=ctx.requests[rid].leaf))


def _hand_back(ctx: PassCtx, rid: str, st: Status) -> None:
    """Take a reservation's charge out of the planning view: the request is Pending again, to be
    judged in tournament order, and keeps its reservation's place (``plan_seq``) if it re-takes it."""
    q = ctx.requests[rid]
    ctx.sim.remove(ctx.tree.index[q.leaf], ctx.vec(rid))
    ctx.version += 1
    ctx.gate_held[rid] = st.plan_seq
    ctx.status[rid] = Status("Pending", GATED, pending_since=st.pending_since, times_preempted=st.times_preempted,
                             detail=st.detail)
    ctx.touched_from.setdefault(rid, st)  # a PENDING decision follows only if it ends the pass unreserved


def transfer(ctx: PassCtx, rid: str) -> None:
    """Phase two (called for gate reservations in reservation order, before the tournament):
    admit once the gates are clear; hand a borrowing reservation back for this pass's
    tournament; keep a within-owned one."""
    from .evaluate import _evaluate

    st = ctx.status[rid]
    q = ctx.requests[rid]
    leaf = ctx.tree.index[q.leaf]
    vec = ctx.vec(rid)
    if not q.gates:
        ctx.sim.remove(leaf, vec)
        ctx.version += 1
        ctx.status[rid] = Status("Pending", "", pending_since=st.pending_since, times_preempted=st.times_preempted)
        _evaluate(ctx, rid, leaf)  # the ordinary path: it fits, its own charge kept the room
        return
    detail = dict(st.detail, gates=list(q.gates))  # some checks may have passed already
    # Held by what it was when taken, not re-checked against this pass's view: that view still
    # holds later reservations, next to which an earlier within-owned one could look borrowing
    # (and flip its verdict between two passes at one instant, P13).
    # Only while the owned it was taken within is still in force, though: a config change (or a
    # capacity drop, D1) may shrink owned under it.  A reservation is no allocation, so owned
    # reclaim could never evict one that now borrows — worse, its charge would make its tenant's
    # running pods look like borrowers and be evicted in its place.  So it is decided again.
    # (Not re-checked against this pass's usage: who borrows depends on the order things were
    # taken in, and a second pass at the same instant must find the same answer, P13.)
    if not detail.get("borrowing"):
        ctx.sim.remove(leaf, vec)
        fits = ctx.sim.fit(leaf, vec) is None
        ctx.sim.add(leaf, vec)
        if fits and _tuple(detail.get("owned_when_reserved")) == _owned_basis(ctx, leaf, vec):
            ctx.status[rid] = replace(st, detail=tuple(sorted(detail.items())))
            return
    # Borrowing (or no longer fitting after a config/capacity change): decided again below.
    _hand_back(ctx, rid, st)


def _owned_basis(ctx: PassCtx, leaf: int, vec: list[int]) -> tuple:
    """The owned quantities a within-owned reservation relied on: (node, resource, owned) for
    every node below the root on its path and every resource it needs."""
    tree = ctx.tree
    res = tree.config.resources
    return tuple((tree.ids[x], res[r], tree.owned[x][r]) for x in tree.path[leaf] if x != tree.root
                 for r in range(tree.R) if vec[r] > 0)


def _tuple(value):
    """Facts may come back from JSON with lists for tuples (scheduling/snapshot.py)."""
    return tuple(_tuple(v) for v in value) if isinstance(value, list | tuple) else value
