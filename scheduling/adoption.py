"""Running pods the engine did not admit (made before the portal managed their namespace, or
without the admission gate) join the engine's state as admitted holds: they are adopted.

Their share is read as if the engine had admitted them one after another, oldest first: within
the owned quota while the tenant's usage stays within it, borrowing (from the scope the engine
would name) beyond. A tenant running twelve ungated pods on an owned eight so reads as eight
owned and four borrowed, in each request's why, in its binding rows and in the lender's
``who_is_borrowing_from``, as it would had the pods been gated; not as twelve within owned,
which would hide a borrower from the tenants it borrows from. The engine itself reads no share
from a hold's status: whether a node borrows is always its usage against its owned quota.
"""

from __future__ import annotations

from dataclasses import replace

from scheduling.engine.explain import Reason
from scheduling.engine.model import Allocation, Config, Request, State, Status
from scheduling.engine.wording import CLUSTER

from .bindings import shares_in_turn
from .snapshot import ROOT
from .units import amounts_text

Share = tuple[str, str, dict]  # owned|borrowed, lender scope, borrowed amounts (bindings.share_of)


def adopt(config: Config, state: State, requests: list[Request], now: int) -> tuple[State, dict[str, Share]]:
    """``state`` with ``requests`` as admitted holds; returns it with the share of each."""
    if not requests:
        return state, {}
    requests = sorted(requests, key=lambda q: (q.created_at, q.id))
    holds = [Allocation(q.id, q.leaf, dict(q.demand), admitted_at=now) for q in requests]
    shares = shares_in_turn(config, state, holds)
    reqs, status, allocs = dict(state.requests), dict(state.status), dict(state.allocations)
    for q, hold in zip(requests, holds, strict=True):
        share, scope, _ = shares[q.id]
        reqs[q.id], allocs[q.id] = q, hold
        # As the engine records an admission (evaluate.record_admission): the lender scope in the detail.
        status[q.id] = (Status("Admitted", str(Reason.ADMITTED_BORROWING), pending_since=q.created_at,
                               detail=(("lender_scope", scope),)) if share == "borrowed" else
                        Status("Admitted", str(Reason.ADMITTED_WITHIN_OWNED), pending_since=q.created_at))
    return replace(state, requests=reqs, status=status, allocations=allocs), shares


def request_rows(state: State, shares: dict[str, Share]) -> dict[str, dict]:
    """What the request rows of this pass's adopted holds say: no decision speaks for them, unless
    the pass that adopted a hold also evicted it (then the eviction's word is the latest)."""
    rows = {}
    for key, (share, scope, borrowed) in shares.items():
        rows[key] = {"share": share, "lender_scope": scope}
        hold = state.allocations.get(key)
        if hold is None or hold.terminating:
            continue
        if share == "borrowed":
            # The cycle's own wording, shown as stored (units.in_display_units rewords only the
            # engine's): so in display units already, and the root named as the engine names it.
            # A tenant node (t<pk>) reads as its name where it is shown (redact.py).
            under = CLUSTER if scope == ROOT else scope
            how = f"by borrowing {amounts_text(borrowed)} under {under}"
            facts = {"lender_scope": scope, "borrowed": borrowed}
        else:
            how, facts = f"within the owned quota of {hold.leaf}", {}
        rows[key].update(facts={"adopted": True, "leaf": hold.leaf, **facts},
                         message=f"Adopted {key} {how}: its pods run without the admission gate.")
    return rows
