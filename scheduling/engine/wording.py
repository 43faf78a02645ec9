"""Rules X: the one-line prose of each decision, for the tenant admin who reads it.

A message is built from the decision's facts alone (N3: the same facts always read the same),
so it never states a number the facts do not hold.  It names nodes and requests by their engine
ids, each as a word of its own (a reader's side rewrites them: scheduling/redact.py), amounts as
``1 cpu, 2048 mem`` and lists as ``b12, b13``.  The root reads "the cluster".

A waiting request reads the binding constraint in the numbers of its node, e.g.
``b13 waits: T2 uses 12 of owned 8 + borrow limit 4 u; it needs 1, 0 available.``

Amounts are printed as the engine holds them (``plain``), in whatever units its caller chose.  A
reader who wants other units passes ``amount_text`` (resource, amount → text): the portal reads
millicores as cores and MiB as GiB when whole (scheduling/units.py); every amount a message
states goes through it, and nothing else (seconds, priorities, DRS) does.
"""

from __future__ import annotations

from collections.abc import Callable

from .explain import Reason

AmountText = Callable[[str, object], str]

CLUSTER = "the cluster"

# Pending reasons whose whole story is the binding constraint (A7).
_CAPACITY_REASONS = frozenset({Reason.PENDING_NO_CAPACITY, Reason.PENDING_BORROW_LIMIT, Reason.PENDING_LEND_LIMIT,
                               Reason.PENDING_MAX})


def plain(resource: str, amount) -> str:
    """An amount as the engine holds it: the default, so messages stay as they were recorded."""
    return f"{amount}"


def message(action: str, reason: str, request: str | None, facts: dict, amount_text: AmountText = plain) -> str:
    """One line a tenant admin can act on, built only from the recorded facts; ``amount_text``
    writes each amount (``plain``: the number as recorded)."""
    if reason == Reason.ADMITTED_WITHIN_OWNED:  # the commonest decision first (B11)
        return f"Admitted {request} within the owned quota of {facts.get('leaf')}."
    if action == "PENDING":
        text = _pending(reason, request, facts, amount_text)
        return _with_hand_back(text, facts) if "handed_back_to" in facts else text  # a call only where needed (B11)
    if action == "ADMIT":
        return _admitted(reason, request, facts, amount_text)
    if action == "RESERVE":
        if reason == Reason.PENDING_GATES:  # A4c: quota held while external admission checks run
            return f"Reserved quota for {request} while its admission checks run: {ids(facts.get('gates'))}."
        return f"Reserved capacity for {request}; waiting for {ids(facts.get('victims'))} to release."
    if action == "SHRINK":
        within = reason == Reason.EVICT_WITHIN_LEAF_PRIORITY
        return (f"Shrinking {request} from {amounts(facts.get('from'), amount_text)} to "
                f"{amounts(facts.get('to'), amount_text)} ({reason}) for {facts.get('preemptor')} instead of "
                f"evicting it: {_victim_side(facts, 'shrink', within, amount_text)}.")
    if action == "EVICT":
        return _evicted(reason, facts, amount_text)
    if action == "REJECT":
        return _rejected(reason, request, facts, amount_text)
    return f"{request}: {reason}."


# ---------------------------------------------------------------- pieces


def amounts(quantities: dict | None, amount_text: AmountText = plain) -> str:
    """``{"cpu": 1, "mem": 2048}`` as ``1 cpu, 2048 mem``."""
    return ", ".join(f"{amount_text(r, q)} {r}" for r, q in (quantities or {}).items()) or "nothing"


def ids(names) -> str:
    """Request ids (or checks) as ``b12, b13``."""
    return ", ".join(names or ()) or "none"


# ---------------------------------------------------------------- PENDING


def binding_clause(b: dict, amount_text: AmountText = plain) -> str:
    """The binding constraint (X2) in the numbers of its node, e.g. ``T2 uses 12 of owned 8 +
    borrow limit 4 u; it needs 1, 0 available`` (explain.binding_facts, evaluate._new_binding)."""
    res, used = b["resource"], b.get("used")

    def n(key: str) -> str:  # an amount of the binding resource; the engine's facts always hold these two
        return amount_text(res, b[key] if key in ("needed", "available") else b.get(key))

    kind = b.get("kind")
    if used is None:  # no numbers: recorded before they were (or a rejection's potential)
        return f"{b['node']} has {n('available')} {res} available; it needs {n('needed')}"
    if kind in ("capacity", "lend_limit"):  # the root's (Ledger.fit)
        text = f"{CLUSTER} has {n('free')} {res} free ({n('used')} used of {n('owned')})"
        if b.get("via") is not None:
            text += f" and {b['via']} may lend only {n('lend_limit')} of its {n('lender_unused')} unused"
        return f"{text}; it needs {n('needed')}"
    if kind == "max":
        text = f"{b['node']} uses {n('used')} of max {n('max')} {res}"
    elif kind == "borrow_limit":
        text = f"{b['node']} uses {n('used')} of owned {n('owned')} + borrow limit {n('borrow_limit')} {res}"
    else:  # "owned": what a request that may not borrow can use
        text = f"{b['node']} uses {n('used')} of owned {n('owned')} {res}"
    return f"{text}; it needs {n('needed')}, {n('available')} available"


def _pending(reason: str, request: str | None, facts: dict, amount_text: AmountText) -> str:
    b = facts.get("binding")
    if reason in _CAPACITY_REASONS:  # the commonest (B2, B11: a full cluster)
        return _with_gates(f"{request} waits: {binding_clause(b, amount_text)}." if b else f"{request} waits.", facts)
    if reason == Reason.PENDING_NON_PREEMPTIBLE_NEEDS_OWNED:
        text = f"{request} waits: it is not preemptible, so it may only use owned capacity"
        return _with_gates(text + (f", and {binding_clause(b, amount_text)}." if b else "."), facts)
    waits = f"{request} waits: {binding_clause(b, amount_text)}." if b else f"{request} waits."
    if reason == Reason.PENDING_STRICT_FIFO_BLOCKED:
        text = f"{request} waits behind {facts.get('by')}, the head of its StrictFIFO queue."
    elif reason == Reason.PENDING_GRACE_EXCEEDS_LENDER_SLA:
        text = (f"{request} waits: to borrow it would need a reclaim grace of at most {facts.get('grace')} s, "
                f"what its lenders were promised, and its own is longer.")
    elif reason == Reason.PENDING_PREEMPTION_DELAY:
        text = f"{waits} It may preempt from t={facts.get('until')}, when its preemption delay is over."
    elif reason == Reason.PENDING_FAIRSHARE_PROTECTED:
        text = f"{waits} The pods it could preempt are protected by their minimum runtime until t={facts.get('until')}."
    elif reason == Reason.PENDING_BUDGET_EXHAUSTED:
        text = f"{waits} Fair-share preemption has used up its budget for this window."
    elif reason == Reason.PENDING_NO_VICTIMS:
        fenced = " (a fence stands in the way)" if facts.get("fenced") else ""
        text = f"{waits} No running pod may be preempted for it{fenced}."
    elif reason == Reason.PENDING_WAITING_FOR_VICTIMS:
        text = f"{request} waits for pods being evicted for earlier requests to release the capacity it fits in."
    elif reason == Reason.PENDING_GATES:
        return f"{request} waits for its admission checks: {ids(facts.get('gates'))}."
    else:
        text = waits
    return _with_gates(text, facts)


def _with_gates(text: str, facts: dict) -> str:
    """A gated request waiting for quota (A4c) also names the checks it has still to pass."""
    gates = facts.get("gates")
    return f"{text} Admission checks to pass: {ids(gates)}." if gates else text


def _with_hand_back(text: str, facts: dict) -> str:
    """A reservation handed back to an owner in this pass (reserved_reclaim.py) says where its
    capacity went: the request was Reserved a moment ago and is waiting again."""
    return f"{text} It gave the capacity reserved for it back to {facts['handed_back_to']}, whose tenant owns it."


# ---------------------------------------------------------------- ADMIT, REJECT


def _admitted(reason: str, request: str | None, facts: dict, amount_text: AmountText) -> str:
    if reason == Reason.ADMITTED_BORROWING:
        return _borrowing(request, facts, amount_text)
    if reason == Reason.ADMITTED_BY_TRANSFER:
        if facts.get("shrunk"):  # P4: the victims keep running, smaller
            return f"Admitted {request} on the capacity given up by shrinking {ids(facts.get('victims'))}."
        return f"Admitted {request} on the capacity released by its victims {ids(facts.get('victims'))}."
    return f"Admitted {request} ({reason})."


def _borrowing(request: str | None, facts: dict, amount_text: AmountText) -> str:
    """``Admitted b9 by borrowing 1 u under the cluster (T2 uses 9 of owned 8 + borrow limit 4
    u)``: the node that borrows, in its numbers after admission, for the resources it borrows.
    Written for speed: half the admissions of a busy pass borrow (B11), and their facts always
    have this shape (explain.admit_facts)."""
    borrowed, scope, path = facts["borrowed"], facts["lender_scope"], facts["path"]
    i = path.index(scope)
    node = path[i - 1]  # the node that borrows is the one just below the lender scope
    numbers = facts["per_node"][node]
    owned, now, limits = numbers["owned"], numbers["used_after"], numbers.get("borrow_limit")
    under = CLUSTER if i == len(path) - 1 else scope
    if len(borrowed) == 1:  # the common case, without lists and joins
        ((r, q),) = borrowed.items()
        limit = f" + borrow limit {amount_text(r, limits[r])}" if limits is not None and r in limits else ""
        return (f"Admitted {request} by borrowing {amount_text(r, q)} {r} under {under} "
                f"({node} uses {amount_text(r, now[r])} of owned {amount_text(r, owned[r])}{limit} {r}).")
    uses = [f"{amount_text(r, now[r])} of owned {amount_text(r, owned[r])}"
            + (f" + borrow limit {amount_text(r, limits[r])}" if limits is not None and r in limits else "")
            + f" {r}" for r in borrowed]
    return (f"Admitted {request} by borrowing {amounts(borrowed, amount_text)} under {under} "
            f"({node} uses {' and '.join(uses)}).")


def _rejected(reason: str, request: str | None, facts: dict, amount_text: AmountText) -> str:
    if reason == Reason.REJECT_INVALID_CONFIG:
        errors = "; ".join(facts.get("errors") or ())
        return f"Config version {facts.get('version')} rejected: {errors}; the previous version stays in force."
    if reason == Reason.REJECT_UNKNOWN_RESOURCE:
        return f"Rejected {request}: the cluster schedules no {ids(facts.get('resources'))}."
    b = facts.get("binding")
    if b:  # REJECT_NEVER_FITS: ``available`` is the most the leaf could ever get (its potential)
        res = b["resource"]
        return (f"Rejected {request}: it needs {amount_text(res, b['needed'])} {res}, more than {b['node']} can "
                f"ever provide ({amount_text(res, b['available'])}).")
    if reason == Reason.REJECT_NEVER_FITS:
        return f"Rejected {request}: {facts.get('leaf')} is no leaf of the tenant tree, or the demand is negative."
    return f"Rejected {request} ({reason})."


# ---------------------------------------------------------------- EVICT, SHRINK


def _evicted(reason: str, f: dict, amount_text: AmountText) -> str:
    victim, preemptor = f.get("victim"), f.get("preemptor")
    if reason == Reason.EVICT_QUOTA_DECREASE:
        cap = f.get("max") or {}
        before = {r: q for r, q in (f.get("used_before") or {}).items() if r in cap}
        after = {r: q for r, q in (f.get("used_after") or {}).items() if r in cap}
        return (f"Evicting {victim} ({reason}): {f.get('node')} has used more than its max "
                f"{amounts(cap, amount_text)} for at least {f.get('delay')} s ({amounts(before, amount_text)} before "
                f"this eviction, {amounts(after, amount_text)} after).")
    if reason == Reason.EVICT_WITHIN_LEAF_PRIORITY:
        return (f"Evicting {victim} ({reason}) for {preemptor}: priority {f.get('victim_priority')} against "
                f"{f.get('preemptor_priority')}; {_victim_side(f, 'eviction', True, amount_text)}.")
    text = f"Evicting {victim} ({reason}) for {preemptor}: {_victim_side(f, 'eviction', amount_text=amount_text)}"
    if reason == Reason.EVICT_FAIR_SHARE:
        text += (f"; its DRS goes from {f.get('drs_victim_side_before')} to {f.get('drs_victim_side')}, "
                 f"that of {f.get('preemptor_node')} with {preemptor} is {f.get('drs_preemptor_side')}")
    elif reason == Reason.EVICT_BORROW_PREEMPT:
        text += f"; priority {f.get('victim_priority')} against {f.get('preemptor_priority')}"
    if f.get("reclaimed_back"):
        text += (f"; {victim} had reclaimed from {preemptor}'s side, but nothing else that borrows there "
                 "can be taken, and its owners are owed their share")
    return text + "."


def _victim_side(f: dict, what: str, within: bool = False, amount_text: AmountText = plain) -> str:
    """``T2 was borrowing: it used 12 of owned 8 + borrow limit 4 u before this eviction, 11
    after`` — the victim-side node's numbers for the resources taken (explain.victim_side);
    ``within``: the victim's own leaf, which need not borrow (P-W)."""
    node, before = f.get("victim_node"), f.get("used_before")
    if before is None:  # no numbers recorded
        return f"in {node}" if within else f"{node} was borrowing"
    owned, limits, after = f.get("owned") or {}, f.get("borrow_limit") or {}, f.get("used_after") or {}
    was = [f"{amount_text(r, q)} of owned {amount_text(r, owned.get(r))}"
           + (f" + borrow limit {amount_text(r, limits[r])}" if r in limits else "") + f" {r}"
           for r, q in before.items()]
    now = ([f"{amount_text(r, after.get(r))} {r}" for r in before] if len(before) > 1
           else [amount_text(r, after.get(r)) for r in before])
    numbers = f"{' and '.join(was)} before this {what}, {' and '.join(now)} after"
    return f"{node} used {numbers}" if within else f"{node} was borrowing: it used {numbers}"
