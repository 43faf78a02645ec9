"""Not a benchmark: golden decision hashes of the scheduling engine, for speed work.

``python -m benchmarks.engine_golden`` runs 24 workloads (trees of 20–200 leaves, preemption on
and off, fair share on and off, StrictFIFO and share-tier variants) through a full pass, a second
pass at the next instant and an incremental pass after one submission, and prints one hash per
workload plus their total.  Each hash covers every decision's action, reason, request, victim,
preemptor, facts and message, and the pass's state hash.  An optimisation that must not change
behaviour (B2) prints the same total before and after; run it on both trees and compare.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

from benchmarks.engine_workload import leaf_ids, make_config, make_state
from scheduling.engine import decide, submit
from scheduling.engine.model import Request

# (leaves, depth, pending, running)
SIZES = [(20, 3, 300, 200), (60, 3, 600, 400), (100, 3, 1000, 1000), (200, 4, 3000, 1500)]


def plan_hash(plan) -> str:
    h = hashlib.sha256()
    for d in plan.decisions:
        h.update(repr((d.action, d.reason, d.request, d.victim, d.preemptor,
                       sorted(d.facts.items(), key=str), d.message)).encode())
    h.update(str(plan.state_hash).encode())
    return h.hexdigest()[:16]


def three_passes(config, state, now: int) -> str:
    first = decide(config, state, now)
    second = decide(config, first.state, now + 1)
    one_more = Request(id="zz1", leaf=leaf_ids(config)[3], demand={"cpu": 1000, "pods": 1}, created_at=now + 1)
    third = decide(config, submit(second.state, [one_more]), now + 2)
    return plan_hash(first) + plan_hash(second) + plan_hash(third)


def workloads():
    for leaves, depth, pending, running in SIZES:
        for preemption in (False, True) if leaves <= 60 else (False,):
            for fair_share in (False, True):
                for seed in (1, 2):
                    yield leaves, depth, pending, running, preemption, fair_share, seed


def main() -> None:
    total = hashlib.sha256()
    start = time.time()
    for w in workloads():
        leaves, depth, pending, running, preemption, fair_share, seed = w
        t0 = time.time()
        config = make_config(leaves, depth, seed=seed, preemption=preemption, fair_share=fair_share)
        if seed == 2:  # every third inner node StrictFIFO, alternating share tiers
            config = replace(config, nodes=tuple(
                replace(n, queueing="StrictFIFO", share_tier=i % 2) if i % 3 == 0 and n.parent else n
                for i, n in enumerate(config.nodes)))
        if preemption:  # contended: a third of the capacity
            config = replace(config, capacity={r: q // 3 for r, q in config.capacity.items()})
        h = three_passes(config, make_state(config, running=running, pending=pending, seed=seed + 10), 0)
        total.update(h.encode())
        print(w, h[:16], f"{time.time() - t0:.1f}s", flush=True)
    print("TOTAL", total.hexdigest()[:16], f"{time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
