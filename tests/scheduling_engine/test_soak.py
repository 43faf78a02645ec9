"""B10 stability soak: a random trace of submissions, finishes and config (weight) switches with
fair share on.  The test replays the full 10,000-event trace of the benchmark (about 20 s of one core);
``ENGINE_SOAK_EVENTS`` shortens it.  ``python -m benchmarks.scheduling_engine --only=B10`` times it
against the 60 s target."""

from __future__ import annotations

import os

from benchmarks.engine_workload import soak


def test_random_trace_has_no_reclaim_ping_pong_and_bounded_fair_share_churn():
    events = int(os.environ.get("ENGINE_SOAK_EVENTS", "10000"))
    stats = soak(events, seed=7)  # raises on H1/H2 ping-pong and on H3 budget overruns
    assert stats["passes"] == events
    assert stats["admitted"] > events // 4  # the trace really schedules work
    assert stats["reclaim"] > 0 and stats["fair_share"] > 0  # … and really contends
    # Churn stays well below the admissions it disturbs.
    assert stats["fair_share"] < stats["admitted"] // 2, stats
