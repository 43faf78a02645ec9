"""P5b: which victims of earlier plans a reservation waits for, besides its own.

A reservation is transferred (allocate._transfers) in the first pass in which none of the victims
it lists is still leaving, and it must then fit the physical ledger ``actual``.  The planning view
``sim`` counts every victim of every plan as gone already, so a request may fit there thanks to
another plan's victims — typically a whole gang evicted for a smaller preemptor, whose surplus
nobody was promised.  Physically that room is free only once those victims have left.  So a
reservation lists every leaving victim whose capacity it needs:

* a request that fits in ``sim`` alone shares earlier plans' victims, evicting nothing
  (evaluate._share);
* a plan whose own victims do not free enough in ``actual`` waits for the earlier victims its
  plan counted on as well (evaluate._commit); listing only its own, it would be transferred when
  they are gone, find ``actual`` short, and its victims would have been evicted for nothing (P10);
* a transfer that still finds ``actual`` short (other admissions took room in the meantime) waits
  for more of them instead of dropping a reservation whose victims are already evicted
  (allocate._transfers).

The victims are taken in plan order (``PassCtx.excluded_in_plan_order``, the order in which their
preemptors are transferred) until the request fits in ``actual`` without them; those not needed
are then put back, newest first, so the list is minimal.  They are not evictions: minimality (P8)
concerns a plan's own victims, and these were chosen and evicted by the plans before it.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import compress
from operator import attrgetter

from .model import Status, id_key
from .passctx import PassCtx


def leaving_needed(ctx: PassCtx, leaf: int, vec: list[int], gone: list[str] | tuple = (),
                   orphans: bool = False) -> list[str] | None:
    """The leaving victims that a request of demand ``vec`` at ``leaf`` must wait for to fit in
    ``actual``, in plan order, once the allocations ``gone`` (its own victims) have left too: [] if
    none, None if even all of them are not enough.  With ``orphans``, Terminating allocations no
    plan waits for (their preemptor went away) come after them, earliest deadline first: they
    leave too.  ``actual`` is restored before returning."""
    actual, tree, allocs = ctx.actual, ctx.tree, ctx.allocations
    index, vec_of = tree.index, tree.vec
    for v in gone:
        a = allocs[v]
        actual.remove(index[a.leaf], vec_of(a.demand))
    taken: list[str] = []
    ok = actual.fit(leaf, vec) is None
    if not ok:
        for v in ctx.excluded_in_plan_order() + (_orphans(ctx) if orphans else []):
            a = allocs[v]
            actual.remove(index[a.leaf], vec_of(a.demand))
            taken.append(v)
            if actual.fit(leaf, vec) is None:
                ok = True
                break
        if ok:
            for v in reversed(list(taken)):  # fill-back, newest first: the list ends minimal
                a = allocs[v]
                actual.add(index[a.leaf], vec_of(a.demand))
                if actual.fit(leaf, vec) is None:
                    taken.remove(v)
                else:
                    actual.remove(index[a.leaf], vec_of(a.demand))
        for v in taken:
            a = allocs[v]
            actual.add(index[a.leaf], vec_of(a.demand))
    for v in gone:
        a = allocs[v]
        actual.add(index[a.leaf], vec_of(a.demand))
    return taken if ok else None


_STATE = attrgetter("state")
_RESERVED = "Reserved".__eq__


def mark_released(status: dict, released: set[str]) -> None:
    """Reservations note which of their victims are gone (fact ``released``).  Victims are named
    by request id, and a released victim is requeued: it may be admitted again and evicted again,
    for another plan, while a reservation that named it still stands.  That new Terminating
    allocation is not the one the reservation waits for (P10).  One scan per batch of releases;
    the callers copy the status map anyway, and the scan for Reserved ones runs in C (B2)."""
    for rid in list(compress(status, map(_RESERVED, map(_STATE, status.values())))):
        st = status[rid]
        if st.victims and not released.isdisjoint(st.victims):
            gone = released.union(_released(st))
            detail = dict(st.detail, released=tuple(v for v in st.victims if v in gone))
            status[rid] = replace(st, detail=tuple(sorted(detail.items())))


def _released(st: Status) -> tuple[str, ...]:
    return fact(st, "released", ())


def fact(st: Status, key: str, default):
    """A fact of a status's ``detail`` (a tuple of pairs), or ``default``."""
    for k, value in st.detail:
        if k == key:
            return value
    return default


def still_leaving(allocations: dict, st: Status) -> list[str]:
    """The victims a reservation still waits for: not released since it was made (see
    ``mark_released``) and still Terminating."""
    gone = _released(st)
    return [v for v in st.victims if v not in gone and (a := allocations.get(v)) is not None and a.terminating]


def _orphans(ctx: PassCtx) -> list[str]:
    excluded = ctx.excluded
    leaving = [(a.deadline, id_key(aid), aid) for aid, a in ctx.allocations.items()
               if a.terminating and aid not in excluded]
    return [aid for _, _, aid in sorted(leaving)]
