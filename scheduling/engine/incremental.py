"""Incremental passes (benchmark B3): a pass after a few submissions decides only the new requests.

A State that came out of ``decide`` carries, outside its dataclass fields, the pass's final ledgers
(``Carry``); the event functions hand the carry on with a journal of what they changed.  The next
``decide`` may then skip rebuilding everything — but only where the answer provably equals a full
pass, so the output never depends on whether a carry was present:

* The carried state is a fixed point: every Pending request was judged on the final ledgers (the
  settle sweep of allocate.py), and nothing is Reserved or Terminating (no transfer, expiry or
  victim bookkeeping can be due).
* Its verdicts do not depend on time (``ctx.time_free``: no plan and no protection-based reason was
  found), so re-judging the old Pending requests at a later ``now`` on the same ledgers gives the
  same statuses, and a full pass would emit nothing for them.
* The events since then only added requests or removed requests that held nothing, in
  BestEffortFIFO leaves (a StrictFIFO head change re-blocks the leaf's other requests).
* Every new request stays Pending: it is judged in a dry run, and anything that would admit,
  reserve or evict (which would change the ledgers under the old verdicts) falls back to a full pass.

The carried ledgers are never modified after the pass that built them, so older states that share
them stay valid; preemption planning changes a ledger only transiently, hence the ``busy`` guard.
"""

from __future__ import annotations

from operator import attrgetter

from .accounting import Ledger
from .allocate import accept_new, emit_pending
from .evaluate import _evaluate
from .model import State
from .passctx import PassCtx, WouldProgress

_TERMINATING, _STATE = attrgetter("terminating"), attrgetter("state")


class Carry:
    __slots__ = ("tree", "actual", "sim", "busy")

    def __init__(self, tree, actual: Ledger, sim: Ledger):
        self.tree, self.actual, self.sim, self.busy = tree, actual, sim, False


class Journal:
    """Events since the carried pass, newest last: (previous journal or carry, added ids,
    removed (id, leaf) pairs)."""

    __slots__ = ("prev", "added", "removed")

    def __init__(self, prev, added: tuple = (), removed: tuple = ()):
        self.prev, self.added, self.removed = prev, added, removed


def carried(state: State):
    return state.__dict__.get("_carry")


def attach(state: State, carry) -> State:
    object.__setattr__(state, "_carry", carry)  # not a field: invisible to eq, repr, asdict, hash
    return state


def keep(ctx: PassCtx, new_state: State, carry: Carry | None) -> None:
    """After a full pass: carry its ledgers if the output is a time-free fixed point."""
    if carry is None:
        # A full pass knows its terminating allocations (PassCtx.terminating): reading each of the
        # 17,000 allocations a pass at scale M ends with is a scan bound by memory, not by the
        # interpreter (B2).  Statuses are shared values (evaluate): that scan reads a few objects.
        terminating = ctx.terminating if ctx.terminating is not None else any(
            map(_TERMINATING, ctx.allocations.values()))
        if not ctx.time_free or terminating or "Reserved" in map(_STATE, ctx.status.values()):
            return
        carry = Carry(ctx.tree, ctx.actual, ctx.sim)
    attach(new_state, carry)


def on_submit(before: State, after: State, ids: tuple) -> State:
    prev = carried(before)
    return attach(after, Journal(prev, added=ids)) if prev is not None else after


def on_finish(before: State, after: State, ids: list[str]) -> State:
    """Only requests that held nothing (no allocation, not Reserved) keep the carry."""
    prev = carried(before)
    if prev is None:
        return after
    removed = []
    for rid in ids:
        st = before.status.get(rid)
        if rid in before.allocations or (st is not None and st.state == "Reserved"):
            return after
        if rid in before.requests:
            removed.append((rid, before.requests[rid].leaf))
    return attach(after, Journal(prev, removed=tuple(removed)))


def try_pass(tree, state: State, now: int, audit) -> tuple[PassCtx, Carry] | None:
    """The incremental pass, or None when only a full pass gives the right answer."""
    node = carried(state)
    added: list[str] = []
    removed_leaves: set[str] = set()
    while isinstance(node, Journal):
        added.extend(node.added)
        removed_leaves.update(leaf for _, leaf in node.removed)
        node = node.prev
    carry = node
    if carry is None or carry.tree is not tree or carry.busy:
        return None
    fresh = sorted((rid for rid in set(added) if rid in state.status and state.status[rid].state == "New"),
                   key=lambda rid: state.requests[rid].order[2])
    for leaf in removed_leaves | {state.requests[rid].leaf for rid in fresh}:
        i = tree.index.get(leaf)
        if i is not None and tree.nodes[i].queueing == "StrictFIFO":
            return None
    ctx = PassCtx(tree, state, now, audit, share_allocations=True)
    ctx.actual, ctx.sim = carry.actual, carry.sim  # nothing counted as leaving: see carried()
    carry.busy = True
    ctx.dry = True  # any admission, reservation or eviction aborts: see the module docstring
    try:
        accept_new(ctx, fresh)
        for rid in fresh:
            if ctx.status[rid].state == "Pending":
                _evaluate(ctx, rid, tree.index[state.requests[rid].leaf])
    except WouldProgress:
        return None
    finally:
        carry.busy = False
        ctx.dry = False
    if not ctx.time_free:
        return None
    emit_pending(ctx)
    return ctx, carry
