"""Rules A: one allocation pass over a working copy of the state.

Two ledgers are kept while a pass runs:

* ``actual`` counts what holds capacity physically: Running and Terminating allocations.  Every
  admission must fit here, which is what makes capacity safety (P1) hold at every instant,
  including while victims are still terminating.
* ``sim`` is the planning view: ``actual`` minus the victims of active plans plus the demand of
  every Reserved preemptor.  Every admission must fit here too, so capacity freed by victims can
  only ever go to their preemptor (P5 reservation transfer, H6) and later preemptors plan on top
  of earlier plans (P5b).

A pass: expiries, ledgers, acceptance of new requests (V5), reservation transfers (P5), then
tournaments (tournament.py) until a dry sweep finds nothing that could still progress, and the
PENDING decisions whose reason changed.
"""

from __future__ import annotations

from dataclasses import replace

from . import gates, quota_preemption
from .accounting import Ledger
from .evaluate import _admit, _bkey
from .explain import Reason, binding_facts
from .model import Status, id_key
from .passctx import PassCtx
from .reserved_reclaim import is_shared
from .sharing import fact, leaving_needed, mark_released, still_leaving
from .tournament import tournament, would_progress
from .tree import Tree, compile_tree, per_tree


def run_pass(ctx: PassCtx, over_max_since: tuple = ()) -> tuple[tuple[str, int], ...]:
    """A full pass; returns the D2 clocks (``State.over_max_since``) for the next state."""
    _expire(ctx)
    _build_ledgers(ctx)
    accept_new(ctx)
    _transfers(ctx)
    # D2 before the tournament: its victims are Terminating when the pending requests are judged,
    # as they will be in every later pass, so a second pass at this instant finds the same
    # verdicts (P13) — and a preemptor may wait on them rather than evict anew (§10.7 order 1).
    over_max_since = quota_preemption.run(ctx, over_max_since)
    # A request judged early in a pass saw less usage than the pass ends with, so its reason (or
    # even its fate: a plan may become possible) can differ on the final state.  Re-run the
    # tournament over what is still pending until nothing changes; then a second pass at the
    # same instant finds exactly this fixed point and decides nothing (A10, property P13).
    # The re-check runs first as a cheap dry sweep on the final state; only if it finds that
    # something would now be admitted or planned does a full tournament run again.
    # Only the order of admissions and plans matters: a tournament in which nothing progresses
    # judges every request on the unchanged ledgers, in whatever order.  So a dry sweep goes
    # first; if nothing at all can progress (a full cluster: benchmark L), its verdicts are the
    # pass's and the tournament is skipped; otherwise it stops at the first progress.
    ctx.opening = True
    progressed = would_progress(ctx)
    ctx.opening = False
    since = len(ctx.decisions)  # what the tournaments decide from here on
    while True:
        while progressed:
            # A tournament that stopped at its tail has just swept the final ledgers: nothing changed since.
            progressed = tournament(ctx) and ctx.settled != ctx.version and would_progress(ctx)
        # Borrowing gate reservations taken after progress are taken again in order (gates.py).
        if not gates.retake(ctx, since):
            break
        since = len(ctx.decisions)
        tournament(ctx)
        # The closing sweep, as after any tournament: the pending verdicts are those of the final
        # ledgers (with the reservations taken again), as the next pass will find them.
        progressed = ctx.settled != ctx.version and would_progress(ctx)
    gates.emit_reservations(ctx)
    emit_pending(ctx)
    return over_max_since


def emit_pending(ctx: PassCtx) -> None:
    """PENDING decisions, in id order, for requests whose reason or binding changed (A10), and
    for reservations handed back to an owner in the pass: even where the reason is the one the
    request entered the pass with (reserved in the pass, then handed back), its last word would
    otherwise be the RESERVE."""
    reqs, status, handed = ctx.requests, ctx.status, ctx.handed_back
    changed = []
    for rid, was in ctx.touched_from.items():  # each touched request's status as the pass found it
        st = status[rid]
        if st.state == "Pending" and (was.state != "Pending" or was.reason != st.reason or was.detail != st.detail
                                      or _bkey(was.binding) != _bkey(st.binding) or rid in handed):
            changed.append((reqs[rid].order[2], rid, st))  # cached id_key: natural id order
    changed.sort()
    # Verdicts share Status objects (evaluate._pending) and one status explains alike wherever it
    # is held: its facts are built once for all its decisions (read only; B11).
    shared: dict[int, dict] = {}
    ctx.emit_each("PENDING", _pending_facts,
                  [(rid, st.reason, (st, shared, handed.get(rid) if handed else None)) for _, rid, st in changed])


def _pending_facts(st: Status, shared: dict[int, dict], handed_back_to: str | None = None) -> dict:
    # Keyed by identity: every status passed with one ``shared`` existed when the decisions were
    # emitted, and each is held by its decision until explained, so no two share an id.
    f = shared.get(id(st))
    if f is None:
        f = shared[id(st)] = dict(st.detail, binding=binding_facts(st.binding))
    # A reservation handed back in this pass (reserved_reclaim.py) names the owner it went to.
    return f if handed_back_to is None else {**f, "handed_back_to": handed_back_to}


# ---------------------------------------------------------------- A1, ledgers, submissions


def release_allocation(status: dict, allocations: dict, aid: str, now: int) -> None:
    """A victim's pods are gone: drop the allocation and requeue the request (Pending again, as
    Kubernetes recreates an evicted workload).  Reason "" forces a fresh PENDING decision."""
    a = allocations.pop(aid)
    st = status.get(a.request)
    if st is not None and a.terminating:
        status[a.request] = Status("Pending", "", pending_since=now, times_preempted=st.times_preempted + 1)


def _expire(ctx: PassCtx) -> None:
    slack, allocs = ctx.settings.release_slack, ctx.allocations
    terminating = [aid for aid, a in allocs.items() if a.terminating]
    due = [aid for aid in terminating if (a := allocs[aid]).deadline is not None and a.deadline + slack <= ctx.now]
    for aid in sorted(due, key=id_key):
        a = ctx.allocations[aid]
        if ctx._by_leaf is not None:
            ctx._by_leaf[ctx.tree.index[a.leaf]].remove(aid)
        release_allocation(ctx.status, ctx.allocations, aid, ctx.now)
    if due:
        mark_released(ctx.status, set(due))
    ctx.terminating = [aid for aid in terminating if aid in allocs] if due else terminating


def _build_ledgers(ctx: PassCtx) -> None:
    tree = ctx.tree
    ctx.actual = Ledger(tree)
    # Usage bubbling is additive (what passes a node's local part telescopes), so one add of each
    # leaf's total equals one add per allocation: O(leaves × depth × R) instead of O(allocations …).
    rindex, R = tree.rindex, tree.R
    per_leaf: dict[str, list[int]] = {}
    for a in ctx.allocations.values():
        tot = per_leaf.get(a.leaf)
        if tot is None:
            tot = per_leaf[a.leaf] = [0] * R
        for r, q in a.demand.items():
            tot[rindex[r]] += q
    for leaf in sorted(per_leaf):
        ctx.actual.add(tree.index[leaf], per_leaf[leaf])
    ctx.sim = ctx.actual  # one ledger until the planning view first differs (PassCtx.fork_planning_view)
    for rid, st in ctx.status.items():
        if st.state != "Reserved":
            continue
        ctx.reserved_at_start.append((st.plan_seq, rid))  # for _transfers, in plan order
        if is_shared(st):
            ctx.shared_reservations[rid] = None
        ctx.fork_planning_view()
        ctx.sim_is_actual = False
        for v in still_leaving(ctx.allocations, st):
            ctx.count_leaving(v, st.plan_seq)
        ctx.sim.add(tree.index[ctx.requests[rid].leaf], ctx.vec(rid))


def accept_new(ctx: PassCtx, fresh: list[str] | None = None) -> None:
    """V5 and unknown resources for the New requests (all of them, or the ``fresh`` ones)."""
    tree = ctx.tree
    nominal = compile_tree(ctx.config)  # V5 uses nominal capacity: degradation is temporary
    reqs, rindex, now = ctx.requests, tree.rindex, ctx.now
    known = rindex.keys()
    if fresh is None:
        fresh = [r for r, st in ctx.status.items() if st.state == "New"]
    # Only the REJECT decisions need the natural id order: the verdicts themselves are
    # independent, so they are made in any order and just the rejections are sorted (B2).
    rejects: list[tuple] = []
    # Every request accepted now enters the queue in the same state, and states are immutable
    # (replaced, never changed): one Status object serves them all (B2: 50,000 at scale L).
    accepted = Status.new("Pending", "", now)
    # Most requests repeat a demand already seen to fit at every leaf (it is within the least
    # potential of them all): for those only the leaf itself is left to check.
    floor = _potential_floor(nominal)
    fits_anywhere: dict[tuple, list[int]] = {}  # a demand's items → its interned vector
    is_leaf, index, status, vecs = tree.is_leaf, tree.index, ctx.status, ctx.vecs
    for rid in fresh:
        q = reqs[rid]
        demand = q.demand
        items = q.demand_key
        interned = fits_anywhere.get(items)
        if interned is not None:
            leaf = index.get(q.leaf)
            if leaf is not None and is_leaf[leaf]:
                status[rid] = accepted
                vecs[rid] = interned  # as ctx.intern would (every accepted request's vector is needed)
                continue
        if not known >= demand.keys():
            unknown = [r for r in demand if r not in rindex]
            rejects.append((rid, Reason.REJECT_UNKNOWN_RESOURCE, {"resources": sorted(unknown)}))
            continue
        leaf = tree.index.get(q.leaf)
        if leaf is None or not tree.is_leaf[leaf] or (demand and min(demand.values()) < 0):
            rejects.append((rid, Reason.REJECT_NEVER_FITS, {"leaf": q.leaf}))
            continue
        vec = ctx.intern(rid, items)
        bad = _never_fits(nominal, leaf, vec)
        if bad is not None:
            rejects.append((rid, Reason.REJECT_NEVER_FITS, {"binding": bad, "potential": bad["available"]}))
            continue
        ctx.status[rid] = accepted
        if all(d <= f for d, f in zip(vec, floor, strict=True)):
            fits_anywhere[items] = vec
    rejects.sort(key=lambda t: reqs[t[0]].order[2])  # natural id order (cached id_key)
    for rid, reason, facts in rejects:
        _reject(ctx, rid, reason, facts)


@per_tree
def _potential_floor(tree: Tree) -> list[int]:
    """The least potential of any leaf, per resource."""
    leaves = [tree.potential[x] for x in range(len(tree.ids)) if tree.is_leaf[x]]
    return [min(col) for col in zip(*leaves, strict=True)]


def _never_fits(tree: Tree, leaf: int, vec: list[int]) -> dict | None:
    potential = tree.potential[leaf]
    for r, d in enumerate(vec):
        if d > potential[r]:
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
    for _, rid in sorted(ctx.reserved_at_start):
        st = ctx.status[rid]
        if st.state != "Reserved":  # handed back meanwhile to an owner judged here (reserved_reclaim.py)
            continue
        if gates.is_gate_reservation(st):  # A4c: no victims, waits for its checks instead
            gates.transfer(ctx, rid)
            continue
        if still_leaving(ctx.allocations, st):
            continue
        q = ctx.requests[rid]
        leaf = ctx.tree.index[q.leaf]
        vec = ctx.vec(rid)
        ctx.sim.remove(leaf, vec)
        ctx.version += 1  # the planning view changed: verdicts and fits cached before are stale
        if ctx.actual.fit(leaf, vec) is None:
            # Physically there: it is admitted in its plan's place, even where the planning view
            # is short.  That view can be overcommitted by victims counted back in when the plan
            # that evicted them went away, and the earlier plan comes first (P5b, P10).
            _admit(ctx, q, leaf, vec, Reason.ADMITTED_BY_TRANSFER, {"victims": list(st.victims)},
                   reclaim_guard=fact(st, "reclaim_guard", ()))
        else:
            _wait_longer(ctx, rid, st, leaf, vec)


def _wait_longer(ctx: PassCtx, rid: str, st: Status, leaf: int, vec: list[int]) -> None:
    """A reservation whose victims are gone still does not fit physically: since it was made,
    other requests were admitted into room its plan counted on, on the strength of other plans'
    victims that are still leaving (the planning view counts them as gone), or earlier plans took
    more of a shared victim's room than it was left, once the plan that evicted that victim went
    away and the victim's spare room was counted in again.  Its own victims are evicted already,
    so dropping it would break plan-or-nothing (P10) and hand the room they freed to whoever
    comes first.  It keeps its place and waits for leaving victims as well (P5b) — unless even all
    of them would not make room: then the world changed under the plan (a capacity drop, a new
    config version) and it is planned again."""
    waits = leaving_needed(ctx, leaf, vec, orphans=True)
    if not waits:
        ctx.status[rid] = replace(st, state="Pending", reason="", victims=(), detail=())
        return
    ctx.sim.add(leaf, vec)
    for v in waits:  # their room comes to it in its (earlier) place now; orphans, as the next pass will
        ctx.count_leaving(v, st.plan_seq)
    detail = tuple(kv for kv in st.detail if kv[0] != "released")  # waits are all still leaving
    ctx.status[rid] = replace(st, victims=tuple(waits), detail=detail)
    ctx.emit("RESERVE", Reason.PENDING_WAITING_FOR_VICTIMS, request=rid, facts={"victims": waits, "shared": True})
