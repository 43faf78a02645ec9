"""Hypothesis generators: random valid trees (V1–V3), request streams, invalid mutations."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from scheduling.engine.model import BorrowPreempt, Config, Node, Request, Settings

from .conftest import TREE_SIZE

RES = ("u", "g", "h")


@st.composite
def configs(draw, *, max_nodes=None, max_depth=None, max_resources=None, fair_share=None, flat=False) -> Config:
    """A valid config (V1–V3) with random limits and policies; sizes default to the profile's."""
    max_nodes = max_nodes or TREE_SIZE["max_nodes"]
    max_depth = max_depth or TREE_SIZE["max_depth"]
    R = RES[: draw(st.integers(1, max_resources or TREE_SIZE["max_resources"]))]
    cap = {r: draw(st.integers(4, 40)) for r in R}
    nodes: list[dict] = [{"id": "root", "parent": None, "owned": dict(cap), "depth": 0}]
    queue = [0]
    while queue and len(nodes) < max_nodes:
        i = queue.pop(0)
        parent = nodes[i]
        if parent["depth"] >= (1 if flat else max_depth):
            continue
        lo = 2 if i == 0 else 0
        k = draw(st.integers(lo, 4 if flat else 3))
        remaining = dict(parent["owned"])
        for _ in range(k):
            if len(nodes) >= max_nodes:
                break
            owned = {}
            for r in R:
                q = draw(st.integers(0, remaining[r]))
                owned[r] = q
                remaining[r] -= q
            nodes.append({"id": f"n{len(nodes)}", "parent": parent["id"], "owned": owned,
                          "depth": parent["depth"] + 1})
            queue.append(len(nodes) - 1)
    if len(nodes) == 1:
        nodes.append({"id": "n1", "parent": "root", "owned": {r: 0 for r in R}, "depth": 1})
    built = []
    for d in nodes:
        if d["id"] == "root":
            built.append(Node(id="root"))
            continue
        own = d["owned"]
        bl = {r: draw(st.one_of(st.none(), st.integers(0, cap[r]))) for r in R}
        ll = {r: draw(st.one_of(st.none(), st.integers(0, own[r]))) for r in R}
        mx = {r: draw(st.one_of(st.none(), st.none(), st.integers(own[r], own[r] + cap[r]))) for r in R}
        built.append(Node(
            id=d["id"], parent=d["parent"], owned=own, borrow_limit=bl, lend_limit=ll, max=mx,
            weight=Fraction(draw(st.sampled_from([1, 1, 1, 2, 3, 0]))),
            share_tier=draw(st.sampled_from([0, 0, 1])),
            reclaim_policy=draw(st.sampled_from(["Any", "Any", "LowerPriority", "Never"])),
            within_policy=draw(st.sampled_from(["LowerPriority", "LowerOrNewerEqualPriority", "Never"])),
            borrow_preempt=BorrowPreempt(draw(st.sampled_from(["Never", "LowerPriority"])),
                                         draw(st.sampled_from([None, 0, 50]))),
            fence=draw(st.booleans()),
            reclaim_delay=draw(st.sampled_from([0, 0, 5])),
            fairshare_delay=draw(st.sampled_from([0, 5, 30])),
            min_runtime_fairshare=draw(st.sampled_from([None, None, 20])),
            quota_preemption_delay=draw(st.sampled_from([0, 0, 10])),
            queueing=draw(st.sampled_from(["BestEffortFIFO", "BestEffortFIFO", "StrictFIFO"])),
        ))
    fs = draw(st.booleans()) if fair_share is None else fair_share
    settings = Settings(
        fair_share_preemption=fs,
        fs_epsilon=Fraction(draw(st.sampled_from([0, 0, 1]))) / 10,
        fs_budget=draw(st.sampled_from([None, Fraction(1, 10), Fraction(1, 2)])),
        borrowing_preference=draw(st.sampled_from(["BorrowOverPreempt", "PreemptOverBorrow"])),
    )
    return Config(version=1, resources=R, capacity=cap, nodes=tuple(built), settings=settings)


def leaves(config: Config) -> list[str]:
    parents = {n.parent for n in config.nodes}
    return sorted(n.id for n in config.nodes if n.id not in parents)


@st.composite
def request_batches(draw, config: Config, t: int, serial: list[int]) -> list[Request]:
    out = []
    lv = leaves(config)
    for _ in range(draw(st.integers(0, 3))):
        demand = {}
        for r in config.resources:
            demand[r] = draw(st.integers(0, max(1, config.capacity[r] // 2)))
        if not any(demand.values()):
            demand[config.resources[0]] = 1
        serial[0] += 1
        # One request in four is elastic (P4): it accepts any size down to about half its demand.
        elastic = {r: q // 2 for r, q in demand.items()} if draw(st.integers(0, 3)) == 0 else None
        # One in six waits for external admission checks (A4c); drive() clears them at random.
        gates = ("check",) if draw(st.integers(0, 5)) == 0 else ()
        out.append(Request(
            id=f"q{serial[0]}", leaf=draw(st.sampled_from(lv)), demand=demand, created_at=t,
            priority=draw(st.sampled_from([0, 50, 100])), preemptible=draw(st.integers(0, 9)) > 0,
            reclaim_grace=draw(st.sampled_from([0, 5, 30, 120])), elastic_min=elastic, gates=gates,
        ))
    return out
