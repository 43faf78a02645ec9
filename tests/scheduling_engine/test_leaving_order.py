"""The victims a shared reservation takes (P5b) come in plan order — by the first reservation that
waits for each (``PassCtx.waited_by``), whatever plan evicted it — whatever happened to the pass
since the order was last asked for: ``PassCtx.excluded_in_plan_order`` keeps it between calls and
must still answer what sorting ``excluded`` anew would (the oracle below)."""

from __future__ import annotations

from scheduling.engine.model import Allocation, Config, Node, Request, State, Status, id_key
from scheduling.engine.passctx import PassCtx
from scheduling.engine.tree import INF, compile_tree


def oracle(ctx) -> list[str]:
    return sorted(ctx.excluded, key=lambda v: (ctx.waited_by.get(v, INF), id_key(v)))


def a_pass() -> PassCtx:
    config = Config(version=1, resources=("cpu",), capacity={"cpu": 100},
                    nodes=(Node("root"), Node("t", parent="root", owned={"cpu": 100})))
    requests, status, allocations = {}, {}, {}
    for i in range(1, 13):  # v1…v12 run; p1…p4 evicted them and are reserved behind them
        rid = f"v{i}"
        requests[rid] = Request(rid, "t", {"cpu": 1}, created_at=i)
        status[rid] = Status("Admitted", "ADMITTED_WITHIN_OWNED")
        allocations[rid] = Allocation(rid, "t", {"cpu": 1}, admitted_at=0, terminating=True,
                                      victim_of=f"p{1 + (i - 1) % 4}", deadline=30)
    for j, seq in zip(range(1, 5), (3, 1, 4, 2), strict=True):
        rid = f"p{j}"
        requests[rid] = Request(rid, "t", {"cpu": 3}, created_at=20 + j)
        status[rid] = Status("Reserved", "PENDING_WAITING_FOR_VICTIMS", plan_seq=seq)
    ctx = PassCtx(compile_tree(config), State(requests=requests, status=status, allocations=allocations), now=5)
    ctx.excluded = set()
    return ctx


def test_the_order_follows_additions_and_every_change_it_depends_on():
    ctx = a_pass()
    seq = {f"p{j}": s for j, s in zip(range(1, 5), (3, 1, 4, 2), strict=True)}

    def plans_wait(*victims):
        for v in victims:
            ctx.wait_for(v, seq[ctx.allocations[v].victim_of])

    assert ctx.excluded_in_plan_order() == oracle(ctx) == []
    plans_wait("v1", "v2", "v10", "v7")
    assert ctx.excluded_in_plan_order() == oracle(ctx) == ["v2", "v10", "v1", "v7"]
    ctx.wait_for("v3", 5)  # a later plan's own victims
    ctx.wait_for("v11", 5)
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # An earlier reservation waits for a victim too (P5b sharing, a transfer that waits longer):
    # the victim's room comes to it first, so it moves up.
    ctx.wait_for("v11", 1)
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    assert ctx.excluded_in_plan_order()[:3] == ["v2", "v10", "v11"]
    ctx.wait_for("v7", 9)  # a later one changes nothing
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # A victim's key is set apart from any plan (as a test may), or dropped.
    ctx.waited_by["v2"] = 7
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    del ctx.waited_by["v1"]
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # The set loses a member, or is replaced by another one.
    ctx.excluded.discard("v11")
    ctx.wait_for("v5", 2)
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    ctx.excluded = {"v4", "v9"}
    assert ctx.excluded_in_plan_order() == oracle(ctx)


def test_the_order_is_that_of_the_waiting_reservations_not_of_the_plans_that_evicted():
    """A victim evicted by a plan since withdrawn (its ``victim_of`` names no reservation) that a
    later reservation shares comes in that reservation's place, not last."""
    ctx = a_pass()
    del ctx.status["p1"]  # v1's preemptor finished; p2 (plan_seq 1) shares v1
    ctx.wait_for("v1", 1)
    ctx.wait_for("v4", 2)  # p4's own victim
    assert ctx.excluded_in_plan_order() == ["v1", "v4"]
