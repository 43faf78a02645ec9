"""The engine's public surface: ``decide`` plus the pure event functions that feed it.

``decide(config, state, now)`` is a pure function (P6): it reads nothing but its arguments, and
its output depends on no dict/set iteration order, clock or randomness (N2).  Events that happen
between passes (submit, finish, release, capacity) are applied with the functions below, each
returning a new State; same-timestamp events commute because the pass orders everything itself.

Config switching (V6): ``switch_config`` validates a new version and returns either the new
version or the previous one with a REJECT_INVALID_CONFIG decision; there is no partial install.
"""

from __future__ import annotations

import gc
import hashlib
import json
from contextlib import contextmanager
from dataclasses import asdict, replace

from . import incremental
from .allocate import release_allocation, run_pass
from .explain import Reason
from .model import Allocation, Config, Decision, Plan, Request, State, Status, id_key
from .passctx import PassCtx
from .sharing import mark_released
from .tree import compile_tree
from .validate import validate_config
from .wording import message


def decide(config: Config, state: State, now: int, *, with_hash: bool = True, audit=None) -> Plan:
    """One pass.  ``audit`` is a test hook that sees every preemption plan before it is
    committed (properties P8/P9); it must not mutate anything."""
    with collector_paused():
        tree = compile_tree(config, state.capacity)
        digest = state_hash(state) if with_hash else ""
        fast = incremental.try_pass(tree, state, now, audit)
        if fast is not None:
            # A carried state came out of a pass that found no node over its max (its clock would
            # have made the pass time-dependent, incremental.keep), on this very tree; since then
            # only requests that hold nothing came or went.  So quota preemption has nothing to do.
            (ctx, carry), over_max_since = fast, ()
        else:
            ctx, carry = PassCtx(tree, state, now, audit), None
            over_max_since = run_pass(ctx, state.over_max_since)
    if over_max_since:
        carry = None  # a running clock makes the next verdict time-dependent: no incremental pass
    window = config.settings.fs_budget_window
    new_state = State(
        requests=ctx.requests,
        status=ctx.status,
        allocations=ctx.allocations,
        capacity=state.capacity,
        fs_history=tuple(h for h in ctx.fs_history if h[0] > now - window),
        plan_seq=ctx.plan_seq,
        pass_seq=state.pass_seq + 1,
        over_max_since=over_max_since,
    )
    incremental.keep(ctx, new_state, carry)
    return Plan(decisions=tuple(ctx.decisions), state=new_state, config_version=config.version, state_hash=digest)


@contextmanager
def collector_paused():
    """Run a pass (or a pass and the persistence of its decisions) with the cyclic collector off.

    A pass allocates tens of thousands of objects next to a large long-lived state, and explaining
    its decisions as many again; the collector would keep re-scanning that state (≈ 20 % of a
    pass, and more than the explanations themselves: benchmarks B2, B11) although neither
    creates reference cycles.  Reference counting still frees everything as usual.

    On the way out, what survived is handed to the collector's oldest generation without being
    scanned: it is the next State and its decisions, long-lived by design, and re-enabled as is
    the collector would scan all of it as young objects at the next allocation (≈ 10 % of a pass
    at scale M, B2).  ``freeze`` + ``unfreeze`` splice the young generations into the oldest in
    O(1).  But freezing also resets the collector's generation counters, so with a pass every
    second the oldest generation was never collected again, and cyclic garbage made around the
    passes (ORM objects in the worker, test machinery in the property runs) piled up without
    bound: 14 GB in one property run.  So every ``FULL_COLLECTION_EVERY`` passes a full
    collection runs here instead — about 30 ms at scale M, well under a millisecond per pass —
    and garbage lives at most that many passes.  Nested uses only pause once."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _passes_since_full_collection[0] += 1
            if _passes_since_full_collection[0] >= FULL_COLLECTION_EVERY:
                _passes_since_full_collection[0] = 0
                gc.collect()
            else:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


FULL_COLLECTION_EVERY = 64
_passes_since_full_collection = [0]  # process housekeeping only: no decision depends on it


def state_hash(state: State) -> str:
    """sha256 of a canonical serialisation (N3): sorted keys, ids in natural order."""
    doc = {
        "requests": [asdict(state.requests[k]) for k in sorted(state.requests, key=id_key)],
        "status": [[k, asdict(state.status[k])] for k in sorted(state.status, key=id_key)],
        "allocations": [_allocation_doc(state.allocations[k]) for k in sorted(state.allocations, key=id_key)],
        "capacity": state.capacity, "fs_history": state.fs_history, "plan_seq": state.plan_seq,
    }
    if state.over_max_since:  # D2 clocks; absent otherwise, so hashes of older states stay the same
        doc["over_max_since"] = state.over_max_since
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _allocation_doc(a: Allocation) -> dict:
    doc = asdict(a)
    if not a.reclaim_guard:  # absent while empty, so hashes of states without one stay the same
        del doc["reclaim_guard"]
    return doc


# ---------------------------------------------------------------- events


def submit(state: State, requests: list[Request]) -> State:
    """New requests are validated (V5, unknown resources) by the next pass."""
    reqs = dict(state.requests)
    status = dict(state.status)
    for q in requests:
        if q.id in reqs:
            raise ValueError(f"duplicate request id {q.id}")
        reqs[q.id] = q
        status[q.id] = Status("New", "", pending_since=q.created_at)
    return incremental.on_submit(state, replace(state, requests=reqs, status=status), tuple(q.id for q in requests))


def finish(state: State, ids: list[str]) -> State:
    """Requests complete or are withdrawn: their allocation (if any) is released exactly once
    (P14); a withdrawn preemptor's victims stay Terminating as orphans."""
    reqs, status, allocs = dict(state.requests), dict(state.status), dict(state.allocations)
    gone = set()
    for rid in ids:
        if rid not in reqs:
            continue
        a = allocs.pop(rid, None)
        if a is not None and a.terminating:
            gone.add(rid)
        reqs.pop(rid)
        status.pop(rid, None)
    if gone:  # a victim withdrawn: its id may come again, and is no longer waited for
        mark_released(status, gone)
    return incremental.on_finish(state, replace(state, requests=reqs, status=status, allocations=allocs), ids)


def clear_gates(state: State, ids: list[str], names: list[str] | None = None) -> State:
    """External admission checks passed (A4c): drop the named gates (all when ``names`` is None)
    of these requests.  A request left without gates is admitted by the next pass on the quota it
    has reserved (gates.py); unknown ids are ignored, like ``finish``."""
    reqs = dict(state.requests)
    for rid in ids:
        q = reqs.get(rid)
        if q is not None and q.gates:
            reqs[rid] = replace(q, gates=tuple(g for g in q.gates if names is not None and g not in names))
    return replace(state, requests=reqs)


def release(state: State, ids: list[str], now: int) -> State:
    """Kubernetes confirmed that an evicted allocation's pods are gone."""
    status, allocs = dict(state.status), dict(state.allocations)
    released = set()
    for aid in ids:
        a = allocs.get(aid)
        if a is not None and a.terminating:
            release_allocation(status, allocs, aid, now)
            released.add(aid)
    if released:
        mark_released(status, released)
    after = replace(state, status=status, allocations=allocs)
    # Nothing released: the carried pass data (incremental.py) still describes this state.
    return after if released else incremental.on_submit(state, after, ())


def set_capacity(state: State, capacity: dict[str, int]) -> State:
    """Measured capacity changed (D1); nothing is evicted by this alone (D2)."""
    return replace(state, capacity=dict(capacity))


def switch_config(current: Config | None, candidate: Config, now: int) -> tuple[Config | None, list[Decision]]:
    errors = validate_config(candidate)
    if not errors:
        return candidate, []
    facts = {"version": candidate.version, "errors": [f"{rule}: {msg}" for rule, msg in errors],
             "rules": sorted({rule for rule, _ in errors})}
    d = Decision(time=now, action="REJECT", reason=str(Reason.REJECT_INVALID_CONFIG), facts=facts,
                 message=message("REJECT", Reason.REJECT_INVALID_CONFIG, None, facts))
    return current, [d]
