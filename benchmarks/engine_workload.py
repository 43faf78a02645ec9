"""Synthetic workloads for the scheduling engine: trees at the benchmark scales of the
specification (§12.1) and steady states with running and pending requests (the soak trace of
B10 is engine_soak.py).  Standard library only; deterministic for a given seed."""

from __future__ import annotations

import random
from fractions import Fraction

from scheduling.engine.model import Allocation, Config, Node, Request, Settings, State, Status

RESOURCES = ("cpu", "mem", "pods", "gpu.a100", "gpu.h100")
PER_LEAF = {"cpu": 32000, "mem": 131072, "pods": 110, "gpu.a100": 2, "gpu.h100": 2}


def make_config(leaves: int, depth: int, *, seed: int = 1, fair_share: bool = False,
                preemption: bool = True, owned_fraction: Fraction = Fraction(4, 5),
                capacity: dict[str, int] | None = None) -> Config:
    """A balanced tree with ``leaves`` leaves and ``depth`` levels (root included).  Each node
    owns ``owned_fraction`` of its parent's guarantee split over its children (the rest is the
    parent's private pool)."""
    rng = random.Random(seed)
    fan = 2
    while fan ** (depth - 1) < leaves:
        fan += 1
    capacity = dict(capacity) if capacity else {r: PER_LEAF[r] * leaves for r in RESOURCES}
    nodes = [Node(id="root")]
    level = [("root", dict(capacity))]
    made = 0
    for d in range(1, depth):
        nxt = []
        last = d == depth - 1
        for pid, powned in level:
            k = fan if not last else min(fan, leaves - made)
            if k <= 0:
                continue
            for i in range(k):
                nid = f"{pid}.{i}" if pid != "root" else f"d{i}"
                owned = {r: int(q * owned_fraction) // k for r, q in powned.items()}
                pol = "Any" if preemption else "Never"
                nodes.append(Node(id=nid, parent=pid, owned=owned, weight=Fraction(rng.choice([1, 1, 2])),
                                  reclaim_policy=pol, within_policy="LowerPriority" if preemption else "Never",
                                  fairshare_delay=0))
                nxt.append((nid, owned))
                if last:
                    made += 1
        level = nxt
    settings = Settings(fair_share_preemption=fair_share, fs_budget=Fraction(1, 10) if fair_share else None)
    return Config(version=1, resources=RESOURCES, capacity=capacity, nodes=tuple(nodes), settings=settings)


def leaf_ids(config: Config) -> list[str]:
    parents = {n.parent for n in config.nodes}
    return sorted(n.id for n in config.nodes if n.id not in parents)


def random_demand(rng: random.Random) -> dict[str, int]:
    d = {"cpu": rng.choice([500, 1000, 2000, 4000]), "mem": rng.choice([1024, 2048, 8192]), "pods": 1}
    if rng.random() < 0.1:
        d[rng.choice(["gpu.a100", "gpu.h100"])] = 1
    return d


def make_state(config: Config, *, running: int, pending: int, seed: int = 2, t: int = 0) -> State:
    """Running allocations spread over the leaves (about half of them borrowing), plus pending
    requests — built directly, without passes, so that large scales are cheap to set up."""
    rng = random.Random(seed)
    lv = leaf_ids(config)
    hot = lv[: len(lv) // 2]
    reqs, status, allocs = {}, {}, {}
    for i in range(running):
        leaf = rng.choice(hot) if rng.random() < 0.7 else rng.choice(lv)
        q = Request(id=f"r{i}", leaf=leaf, demand=random_demand(rng), priority=rng.choice([0, 50, 100]),
                    created_at=t - 100 + i % 50)
        reqs[q.id] = q
        status[q.id] = Status("Admitted", "ADMITTED_WITHIN_OWNED", pending_since=q.created_at)
        allocs[q.id] = Allocation(q.id, leaf, dict(q.demand), admitted_at=q.created_at)
    for i in range(pending):
        q = Request(id=f"p{i}", leaf=rng.choice(lv), demand=random_demand(rng), priority=rng.choice([0, 50, 100]),
                    created_at=t - i % 30)
        reqs[q.id] = q
        status[q.id] = Status("New", "", pending_since=q.created_at)
    return State(requests=reqs, status=status, allocations=allocs)
