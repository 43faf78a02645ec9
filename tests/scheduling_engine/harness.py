"""Invariant checks run after every pass in the property and soak tests."""

from __future__ import annotations

from scheduling.engine.accounting import Ledger, naive_balances, naive_feasible
from scheduling.engine.explain import Reason
from scheduling.engine.model import Config, Plan, State
from scheduling.engine.tree import compile_tree

CAPACITY_REASONS = {
    "PENDING_NO_CAPACITY", "PENDING_BORROW_LIMIT", "PENDING_LEND_LIMIT", "PENDING_MAX", "PENDING_NO_VICTIMS",
    "PENDING_PREEMPTION_DELAY", "PENDING_FAIRSHARE_PROTECTED", "PENDING_BUDGET_EXHAUSTED",
}
NEEDS_BINDING = {"PENDING_NO_CAPACITY", "PENDING_BORROW_LIMIT", "PENDING_LEND_LIMIT", "PENDING_MAX"}


def ledgers(config: Config, state: State):
    tree = compile_tree(config, state.capacity)
    actual = Ledger(tree)
    leaf_usage: dict[int, list[int]] = {}
    for a in state.allocations.values():
        leaf = tree.index[a.leaf]
        vec = tree.vec(a.demand)
        actual.add(leaf, vec)
        cur = leaf_usage.setdefault(leaf, [0] * tree.R)
        for r in range(tree.R):
            cur[r] += vec[r]
    sim = actual.clone()
    gone = set()
    for rid, st in sorted(state.status.items()):
        if st.state != "Reserved":
            continue
        for v in st.victims:
            if v in state.allocations and state.allocations[v].terminating and v not in gone:
                gone.add(v)
                a = state.allocations[v]
                sim.remove(tree.index[a.leaf], tree.vec(a.demand))
        q = state.requests[rid]
        sim.add(tree.index[q.leaf], tree.vec(q.demand))
    return tree, actual, sim, leaf_usage


def check_pass(config: Config, before: State, plan: Plan, *, feasible: bool = True) -> None:
    state = plan.state
    tree, actual, sim, leaf_usage = ledgers(config, state)
    # P1 / P3: capacity, max, borrow and lend limits (balance recursion, from scratch).
    if feasible:
        assert naive_feasible(tree, leaf_usage), "P1/P3: infeasible state after a pass"
    # P14: conservation and F3 ≡ F1 on the maintained usage.
    B, U = naive_balances(tree, leaf_usage)
    for x in range(len(tree.ids)):
        assert actual.used[x] == U[x], "P14: subtree usage"
        for r in range(tree.R):
            assert actual.balance(x, r) == B[x][r], "P2: incremental balance differs from F1"
    # P12: exactly one known reason; capacity reasons carry a binding; evictions are attributed.
    for rid, st in state.status.items():
        if st.state in ("Pending", "Reserved", "Admitted"):
            assert Reason(st.reason), (rid, st.reason)
        if st.state == "Pending" and st.reason in NEEDS_BINDING:
            assert st.binding is not None, (rid, st.reason)
    for d in plan.decisions:
        Reason(d.reason)
        if d.action == "EVICT":  # D2 quota evictions have no preemptor: they name the node over its max
            assert (d.preemptor or d.facts.get("node")) and d.facts.get("rule") == d.reason
            # A4c: a request still waiting for its checks never causes an eviction.
            assert d.preemptor is None or not state.requests[d.preemptor].gates, d
    # P11: a non-preemptible request is never admitted by borrowing.
    for d in plan.decisions:
        if d.action == "ADMIT" and not state.requests[d.request].preemptible:
            assert d.reason != "ADMITTED_BORROWING", d
    # P10: a reservation whose victims are all gone is transferred in that same pass.
    for rid, st in state.status.items():
        if st.state == "Reserved" and st.reason != "PENDING_GATES":  # A4c reservations wait for checks
            assert any(v in state.allocations and state.allocations[v].terminating for v in st.victims), \
                f"P10: stale reservation {rid}"
    # A4c: a gate reservation holds quota in the planning view only; nothing of it runs.
    for rid, st in state.status.items():
        if st.state == "Reserved" and st.reason == "PENDING_GATES":
            assert state.requests[rid].gates and rid not in state.allocations and not st.victims, rid
    # P5: work conservation — no eligible pending request fits the final state.
    for rid, st in state.status.items():
        if st.state == "Pending" and st.reason in CAPACITY_REASONS:
            q = state.requests[rid]
            leaf, vec = tree.index[q.leaf], tree.vec(q.demand)
            assert not (actual.fit(leaf, vec) is None and sim.fit(leaf, vec) is None), f"P5: {rid} fits"
