"""Benchmarks of the scheduling engine (specification §12): ``python -m benchmarks.scheduling_engine``.

For each scale (S, M, L, XL: leaves × depth × pending × running) it prints the time of a full
pass, of an incremental pass after one submit, of one owned-reclaim plan, decisions/s, admissions/s
and the peak memory of a pass (tracemalloc) — every time beside the time to merely sort the same
pending list, as a ratio.  Then the 10,000-event soak at M (B10, benchmarks/engine_soak.py).
Arguments: scale names to run (default all), ``--no-soak``, ``--soak-events=N`` (default
10,000), ``--p16`` (the soak again, measuring P16), ``--only=B4`` (just the reclaim plan, for
quick runs) and ``--only=B10`` (just the soak).  Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import tracemalloc
from dataclasses import replace

from benchmarks.engine_soak import SOAK_LEAVES, soak
from benchmarks.engine_workload import leaf_ids, make_config, make_state
from scheduling.engine import collector_paused, decide, explain_all, preempt, submit
from scheduling.engine.accounting import Ledger
from scheduling.engine.allocate import _build_ledgers, _expire, _transfers, accept_new
from scheduling.engine.fairshare import entitlement
from scheduling.engine.model import Request
from scheduling.engine.passctx import PassCtx
from scheduling.engine.tree import compile_tree

SCALES = {  # name: (leaves, depth, pending, running) — §12.1
    "S": (100, 3, 1_000, 1_000),
    "M": (1_000, 4, 10_000, 10_000),
    "L": (1_000, 4, 50_000, 25_000),
    "XL": (5_000, 5, 100_000, 50_000),
}
TARGETS = {"S": 15, "M": 100, "L": 500, "XL": 1500}  # B2, ms


def timed(fn, repeat: int = 1):
    best, out = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best, out


def sort_time(state) -> float:
    pending = [q for q in state.requests.values() if state.status[q.id].state in ("New", "Pending")]
    dt, _ = timed(lambda: sorted(pending, key=lambda q: q.head_order), repeat=3)
    return dt


def one_plan(config, state, rid: str, now: int, repeat: int) -> tuple[float, int]:
    """Best time of the plan alone (B4) and its number of victims.  Each repetition brings a
    fresh pass context to the point where the tournament would judge ``rid`` (expiries, ledgers,
    submissions, transfers) outside the clock, so no per-pass cache is reused between runs.  The
    plan runs with the cyclic collector paused, as it does inside every pass (engine.decide):
    timed without the pause, a collection of the half-built pass around it lands in the plan
    (≈ 50 → 100–200 ms at XL) although none ever runs there in the engine."""
    tree = compile_tree(config, state.capacity)
    best, victims = None, 0
    for _ in range(repeat):
        ctx = PassCtx(tree, state, now)
        for step in (_expire, _build_ledgers, accept_new, _transfers):
            step(ctx)
        ctx.by_leaf  # noqa: B018 — the per-leaf allocation index is built on first use: outside the clock
        q = ctx.requests[rid]
        leaf, vec, since = tree.index[q.leaf], ctx.vec(rid), ctx.status[rid].pending_since
        with collector_paused():  # as in every pass (engine.decide): no collection inside the plan
            t0 = time.perf_counter()
            out = preempt.plan(ctx, q, leaf, vec, since)
            dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
        victims = len(out.victims or ())
    return best, victims


def row(label: str, seconds: float, base: float, extra: str = "") -> None:
    ratio = seconds / base
    shown = f"{ratio:>8.0f}" if ratio >= 10 else f"{ratio:>8.2f}"
    print(f"  {label:<34} {seconds * 1000:>10.1f} ms   {shown}× sort   {extra}")


def bench_scale(name: str) -> None:
    leaves, depth, pending, running = SCALES[name]
    # The spec's B2 target is a p95 over passes: estimated from 60 runs at S and M (the 57th in
    # order, so one noisy run on a shared host does not decide it) and 20 at L and XL (the 19th;
    # "slowest of 3" before was no p95).  The engine's full collection, one pass in
    # FULL_COLLECTION_EVERY (engine.collector_paused), falls in at most one run, beyond the p95
    # as it is in service: ≈ 0.7 s at XL, which a slowest of 3 printed as the pass.
    repeat = 60 if pending <= 10_000 else 20
    print(f"\n{name}: {leaves} leaves, depth {depth}, {pending} pending, {running} running, 5 resources")
    config = make_config(leaves, depth, preemption=False)
    state = make_state(config, running=running, pending=pending)
    base = sort_time(state)
    print(f"  {'sort pending (baseline)':<34} {base * 1000:>10.1f} ms")
    # A tree is compiled once per config version and capacity, then cached: passes reuse it, so
    # the compile is timed on its own and kept out of the pass times below.
    compiled, _ = timed(lambda: compile_tree(config, state.capacity))
    row("tree compile (once per config)", compiled, base)
    # The first pass on a compiled tree also derives the tournament's per-tree tables (key scales,
    # electors): once per config version too, so it is shown on its own and the runs that follow
    # are the steady state the target is about.
    first, _ = timed(lambda: decide(config, state, 0, with_hash=False))
    row("first pass after a config change", first, base)
    times, plan = [], None
    for _ in range(repeat):
        t, plan = timed(lambda: decide(config, state, 0, with_hash=False))
        times.append(t)
    times.sort()
    full = times[0]
    n = len(plan.decisions)
    admitted = sum(1 for d in plan.decisions if d.action == "ADMIT")
    spread = (f"p95 of {repeat} {times[math.ceil(0.95 * repeat) - 1] * 1000:.1f} ms, "
              f"slowest {times[-1] * 1000:.1f} ms")
    row("full pass (B2, no preemption)", full, base,
        f"target {TARGETS[name]} ms (p95); {spread}; {n} decisions, {admitted} admits")
    print(f"  {'decisions/s in the full pass':<34} {n / full:>10.0f}")
    after = submit(plan.state, [Request(id="one-more", leaf=leaf_ids(config)[0], demand={"cpu": 500, "pods": 1},
                                        created_at=1)])
    inc, _ = timed(lambda: decide(config, after, 1, with_hash=False), 20)
    row("incremental pass, one submit (B3)", inc, base, "target 2 ms (M) / 5 ms (XL)")
    # Admissions/s (B6): the same pending list on an empty cluster, so most requests fit.
    empty = make_state(config, running=0, pending=pending)
    adm_t, adm_plan = timed(lambda: decide(config, empty, 0, with_hash=False), 1)
    adm = sum(1 for d in adm_plan.decisions if d.action == "ADMIT")
    row("pass admitting onto an empty cluster", adm_t, base, f"{adm / adm_t:.0f} admissions/s (B6 ≥ 1000)")
    explain_overhead(config, state, full, base)
    bench_reclaim(name, base)
    # Peak memory of a full pass (B9).
    tracemalloc.start()
    decide(config, state, 0, with_hash=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {'peak memory of a full pass (B9)':<34} {peak / 2**20:>10.1f} MiB   target ≤ 300 MB (XL)")
    if name == "XL":
        tree = compile_tree(config)
        demand = [[0] * tree.R for _ in tree.ids]
        for x in range(len(tree.ids)):
            for r in range(tree.R):
                demand[x][r] = tree.owned[x][r] + tree.owned[x][r] // 3
        ent_t, _ = timed(lambda: entitlement(tree, demand), 1)
        row("entitlement water-filling (B8)", ent_t, base, "target 50 ms")


def explain_overhead(config, state, pass_time: float, base: float, runs: int = 3) -> None:
    """B11: what explaining every decision of the pass costs.  The pass records the numbers each
    explanation needs; facts and message are built when first read (model.Decision.lazy), so
    they are built here, all of them, and timed against the pass — as the scheduling cycle
    builds them before persisting them (model.explain_all, with the collector paused).  Best of
    a few fresh passes, as the pass time is."""
    dt, plan = None, None
    for _ in range(runs):
        plan = decide(config, state, 0, with_hash=False)
        t0 = time.perf_counter()
        with collector_paused():
            explain_all(plan.decisions)
        took = time.perf_counter() - t0
        dt = took if dt is None or took < dt else dt
    size = sum(len(json.dumps(d.facts, default=str)) + len(d.message) for d in plan.decisions)  # as persisted
    row("explaining every decision (B11)", dt, base,
        f"{100 * dt / pass_time:.0f} % of the pass (target ≤ 20 %); {size / max(1, len(plan.decisions)):.0f} B "
        f"per decision (target ≤ 1 KB)")


def bench_fit(samples: int = 20_000) -> None:
    """B1: one fit test plus the accounting update of an admission, at depth 5 with 6 resources
    (the XL tree with one more resource), p50 and p99 over requests of varied shapes."""
    config = make_config(SCALES["XL"][0], 5, preemption=False)
    extra = "ephemeral-storage"
    config = replace(config, resources=config.resources + (extra,),
                     capacity={**config.capacity, extra: 10**9})
    tree = compile_tree(config)
    ledger = Ledger(tree)
    rng = random.Random(3)
    leaves = [tree.index[x] for x in leaf_ids(config)]
    times = []
    clock = time.perf_counter_ns
    for _ in range(samples):
        leaf = rng.choice(leaves)
        vec = [rng.choice([250, 500, 1000]), rng.choice([512, 1024]), 1, rng.choice([0, 1]), rng.choice([0, 1]),
               rng.choice([100, 1000])]
        t0 = clock()
        if ledger.fit(leaf, vec) is None:
            ledger.add(leaf, vec)
        times.append(clock() - t0)
    times.sort()
    p50, p99 = times[len(times) // 2] / 1000, times[len(times) * 99 // 100] / 1000
    print(f"\nB1 fit test + accounting update, depth 5, 6 resources: p50 {p50:.1f} µs, p99 {p99:.1f} µs "
          f"(target ≤ 20 µs p50, ≤ 50 µs p99; {samples} requests)")


def bench_reclaim(name: str, base: float) -> None:
    """One owned-reclaim plan (B4), timed alone, then the whole pass that contains it."""
    leaves, depth, _, running = SCALES[name]
    config = make_config(leaves, depth, preemption=False)
    # The cluster is sized to exactly the running usage (hot leaves borrow), then the emptiest
    # leaf asks for what it owns but does not use.
    busy = make_state(config, running=running, pending=0, t=0)
    used = {r: 0 for r in config.resources}
    per_leaf: dict[str, dict[str, int]] = {}
    for a in busy.allocations.values():
        for r, q in a.demand.items():
            used[r] += q
            per_leaf.setdefault(a.leaf, {}).setdefault(r, 0)
            per_leaf[a.leaf][r] += q
    pconf = make_config(leaves, depth, preemption=True, capacity={r: max(q, 1) for r, q in used.items()})
    tree = compile_tree(pconf)
    owner = min(leaf_ids(pconf), key=lambda x: (per_leaf.get(x, {}).get("cpu", 0), x))
    free = tree.owned[tree.index[owner]][tree.rindex["cpu"]] - per_leaf.get(owner, {}).get("cpu", 0)
    ask = submit(busy, [Request(id="owner-1", leaf=owner, demand={"cpu": max(1, min(free, 8000))}, created_at=10)])
    plan_t, victims = one_plan(pconf, ask, "owner-1", 10, repeat=3)
    row("one reclaim plan (B4)", plan_t, base,
        f"target 15 ms (10,000 running) / 100 ms (50,000); {victims} victims; {running} running")
    rec, rplan = timed(lambda: decide(pconf, ask, 10, with_hash=False), 1)
    evicts = sum(1 for d in rplan.decisions if d.action == "EVICT")
    # B5: an owner's reclaim is decided in the first pass after its request arrives; this is
    # that pass (the seed case T02 at this scale).
    row("whole pass containing that plan (B5)", rec, base, f"{evicts} evictions; target 50 ms at M")


def pin_to_one_core() -> str:
    """The spec's targets are for the engine pinned to one core, the other serving Django and
    PostgreSQL (§12.2).  Pinned, a pass is not moved between cores mid-run: on a 2-core machine
    with other work running, the p95 of B2 at M drops from ≈ 97 to ≈ 86 ms for the same best."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned: no CPU affinity on this platform"
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[-1]})
    return f"pinned to core {cores[-1]} of {len(cores)}"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = [a for a in args if a in SCALES] or list(SCALES)
    if "--only=B10" in args:  # the soak alone
        names = []
    version = sys.version.split()[0]
    print(f"Scheduling engine benchmarks (CPython {version}, {pin_to_one_core()}); ratios are against sorting "
          f"the same pending list.")
    if names and "--only=B4" not in args:
        bench_fit()
    for name in names:
        if "--only=B4" in args:  # quick: the reclaim plan alone, without the full passes
            leaves, depth, pending, running = SCALES[name]
            print(f"\n{name}: {leaves} leaves, depth {depth}, {pending} pending, {running} running, 5 resources")
            state = make_state(make_config(leaves, depth, preemption=False), running=running, pending=pending)
            base = sort_time(state)
            print(f"  {'sort pending (baseline)':<34} {base * 1000:>10.1f} ms")
            bench_reclaim(name, base)
            continue
        bench_scale(name)
    if "--no-soak" not in args:
        events = next((int(a.split("=", 1)[1]) for a in args if a.startswith("--soak-events=")), 10_000)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = soak(events, seed=7)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        verdict = ("meets" if cpu <= 60 else "MISSES") + " the target" if events == 10_000 else "target is for 10,000"
        print(f"\nB10 soak at M ({SOAK_LEAVES} leaves), {events} events in {stats['passes']} passes, fair share on: "
              f"{dt:.1f} s wall, {cpu:.1f} s process (target ≤ 60 s for 10,000: {verdict}); "
              f"0 ping-pong (P7: H1, H2), budget held (H3); {stats}")
        if "--p16" in args:  # the same trace again, with the P16 figures (an entitlement per pass)
            p16 = soak(events, seed=7, p16=True)
            print(f"  P16 (measured, not a target the engine meets at M): {p16['p16_over']} of {p16['passes']} "
                  f"passes evict more than the entitlement deviation allows; worst (evictions, bound) "
                  f"{p16['p16_worst']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
