"""Invariants of a stream of passes, beyond one pass: P10 (a preemptor is eventually admitted)
and P14 (a release takes an allocation's capacity back exactly once)."""

from __future__ import annotations

from hypothesis import event

from scheduling.engine import finish, release
from scheduling.engine.model import Plan, State


class PreemptorWatch:
    """P10 plan-or-nothing across passes: a request reserved behind victims is admitted at the
    latest by the first pass at or after its last victim's deadline + release_slack (A1 releases
    every victim then, and a transfer happens in the pass its victims are gone) — unless it
    finished or the world under its plan changed (capacity drop, config switch).  If it does not
    fit then, because requests admitted meanwhile took room its plan counted on, it is reserved
    again, behind other plans' victims still leaving (P5b), and the bound moves to theirs.  A
    reservation that evicted nothing (it shares earlier plans' victims) may be handed back to an
    owner (reserved_reclaim.py): P10 is about evictions, and it made none."""

    def __init__(self, release_slack: int):
        self.slack = release_slack
        self.due: dict[str, int] = {}  # reserved preemptor → time by which it must be admitted
        self.evicted: set[str] = set()  # those of them that evicted something themselves

    def world_changed(self) -> None:
        self.due.clear()
        self.evicted.clear()

    def finished(self, ids) -> None:
        for rid in ids:
            self.due.pop(rid, None)
            self.evicted.discard(rid)

    def after_pass(self, before: State, plan: Plan, t: int) -> None:
        allocations = plan.state.allocations
        for d in plan.decisions:
            if d.action == "ADMIT":
                self.due.pop(d.request, None)
                self.evicted.discard(d.request)
            elif d.action == "EVICT" and d.preemptor is not None:
                self.evicted.add(d.preemptor)
            elif d.action == "RESERVE" and d.reason == "PENDING_WAITING_FOR_VICTIMS":
                deadlines = [allocations[v].deadline for v in d.facts["victims"]
                             if v in allocations and allocations[v].terminating]
                assert deadlines, f"P10: {d.request} reserved behind no leaving victim"
                if d.request in self.due:
                    # Its victims are gone but requests admitted since took room its plan counted
                    # on: it keeps its reservation and waits for other plans' victims as well
                    # (allocate._wait_longer), evicting nothing more.
                    assert not any(e.action == "EVICT" and e.preemptor == d.request for e in plan.decisions), \
                        f"P10: {d.request} evicts again while its reservation stands"
                    event("P10: a reservation waits for more victims at its transfer")
                self.due[d.request] = max(deadlines) + self.slack
        for rid in [rid for rid in self.due if rid not in self.evicted]:
            if plan.state.status[rid].state == "Pending":
                self.due.pop(rid)
                event("P10: a reservation that evicted nothing handed back to an owner")
        late = sorted(rid for rid, due in self.due.items() if due <= t)
        assert not late, f"P10: preemptors {late} not admitted by t={t}: " + \
            str({rid: plan.state.status[rid] for rid in late if rid in plan.state.status})

    def last_due(self) -> int | None:
        return max(self.due.values(), default=None)


def _totals(state: State, resources) -> dict[str, int]:
    out = dict.fromkeys(resources, 0)
    for a in state.allocations.values():
        for r, q in a.demand.items():
            out[r] += q
    return out


def released_once(before: State, ids: list[str], now: int) -> State:
    """``release`` with P14 checks: exactly the Terminating allocations named go, each request is
    requeued once (times_preempted + 1), nothing else changes, and naming them again is a no-op."""
    after = release(before, ids, now)
    gone = {rid for rid in ids if rid in before.allocations and before.allocations[rid].terminating}
    kept = {rid: a for rid, a in before.allocations.items() if rid not in gone}
    assert after.allocations == kept, "P14: release changed other allocations"
    for rid in gone:
        if rid in before.status:
            st, was = after.status[rid], before.status[rid]
            assert st.state == "Pending" and st.times_preempted == was.times_preempted + 1, (rid, was, st)
    assert release(after, ids, now) == after, "P14: a second release of the same allocations changed the state"
    return after


def finished_once(before: State, ids: list[str]) -> State:
    """``finish`` with P14 checks: the allocations of exactly these requests go, once."""
    after = finish(before, ids)
    assert after.allocations == {rid: a for rid, a in before.allocations.items() if rid not in ids}, \
        "P14: finish changed other allocations"
    assert finish(after, ids) == after, "P14: finishing twice changed the state"
    return after


def pass_accounts_once(config, before: State, plan: Plan, now: int) -> None:
    """P14 over one pass: the capacity held afterwards is what was held, minus the allocations
    A1 expired (each exactly once: every Terminating one past deadline + release_slack), minus
    what shrinks gave up, plus what was admitted."""
    slack = config.settings.release_slack
    after = plan.state
    expired = {rid for rid, a in before.allocations.items()
               if a.terminating and a.deadline is not None and a.deadline + slack <= now}
    for rid, a in before.allocations.items():
        b = after.allocations.get(rid)
        if rid in expired:
            # Gone, or requeued and admitted again in this very pass (a new Running allocation).
            assert b is None or (not b.terminating and b.admitted_at == now), ("A1", rid, b)
            if rid in after.status:
                assert after.status[rid].times_preempted == before.status[rid].times_preempted + 1, rid
        else:
            assert b is not None, f"P14: allocation {rid} vanished in a pass"
    expected = _totals(before, config.resources)
    for rid in expired:
        for r, q in before.allocations[rid].demand.items():
            expected[r] -= q
    for d in plan.decisions:
        if d.action == "ADMIT":
            for r, q in after.requests[d.request].demand.items():  # shrunk later in the pass: see SHRINK
                expected[r] += q
        elif d.action == "SHRINK":
            for r, q in d.facts["freed"].items():
                expected[r] -= q
    assert _totals(after, config.resources) == expected, "P14: capacity not conserved over the pass"
