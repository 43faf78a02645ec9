"""The victims a shared reservation takes (P5b) come in plan order, whatever happened to the pass
since the order was last asked for: ``PassCtx.excluded_in_plan_order`` keeps it between calls and
must still answer what sorting ``excluded`` anew would (the oracle below, evaluate._share's sort
before the cache)."""

from __future__ import annotations

from dataclasses import replace

from scheduling.engine.model import Allocation, Config, Node, Request, State, Status, id_key
from scheduling.engine.passctx import PassCtx
from scheduling.engine.tree import INF, compile_tree


def oracle(ctx) -> list[str]:
    return sorted(ctx.excluded, key=lambda v: (ctx.status[ctx.allocations[v].victim_of].plan_seq
                                               if ctx.allocations[v].victim_of in ctx.status else INF, id_key(v)))


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
    assert ctx.excluded_in_plan_order() == oracle(ctx) == []
    ctx.excluded.update(["v1", "v2", "v10", "v7"])
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    ctx.excluded.update(["v3", "v11", "v12"])  # a later plan's victims
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # A preemptor's status changes (an orphan's preemptor admitted, re-reserved, or gone).
    ctx.status["p2"] = replace(ctx.status["p2"], plan_seq=9)
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    ctx.status["p3"] = Status("Admitted", "ADMITTED_WITHIN_OWNED")
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    del ctx.status["p4"]
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # A victim's allocation now names another preemptor, or none.
    ctx.allocations["v1"] = replace(ctx.allocations["v1"], victim_of="p4")
    ctx.allocations["v10"] = replace(ctx.allocations["v10"], victim_of=None)
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    # The set loses a member, or is replaced by another one.
    ctx.excluded.discard("v11")
    ctx.excluded.add("v5")
    assert ctx.excluded_in_plan_order() == oracle(ctx)
    ctx.excluded = {"v4", "v9"}
    assert ctx.excluded_in_plan_order() == oracle(ctx)
