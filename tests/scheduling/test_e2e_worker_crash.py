"""The scheduling worker dies mid-pass (SIGKILL, as an OOM kill or a lost node) while it enacts
many decisions; a new worker picks up from what the pass recorded.

A pass records its decisions in one transaction and enacts after the commit; the next pass
re-enacts what the recorded state says, skipping what is done already. So after the crash
nothing is decided twice or half-recorded, every admitted pod is ungated once (the same pod,
never recreated), exactly the decided victims are evicted, and the bindings stay one open row
per hold. The sandbox's delay fault makes the cluster calls slow, so a pass spends seconds in
its enactment and the test can kill the worker there, once it has seen the first call land.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from scheduling.models import Binding, EngineSnapshot, SchedulingDecision, SchedulingRequest
from tests.scheduling.seed import GATE, deployment, gated, running, setup_seed, terminating
from tests.servers.celery import celery_processes, wait_until
from tests.servers.sandbox import sandbox_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ENV = {"SCHEDULING_INTERVAL": "1"}
DELAY = 0.25  # seconds per cluster call while enacting: 8 at a time, so ~100 calls take ~3 s


def test_a_worker_killed_while_enacting_leaves_a_pass_the_next_worker_completes_exactly_once(operator, tmp_path):
    with sandbox_server(nodes=4, cpu="4") as sandbox:
        cluster, backend, tenants = setup_seed(sandbox.url, "sandbox-admin-token", operator)
        # T2: 96 pods of 1/8 cpu, its owned 8 and its borrow limit 4. T1 will want its 8 back.
        backend.apply(deployment("batch", "t2-apps", 96, cpu="125m"))
        wait_until(lambda: gated(backend, "t2-apps") == 96, seconds=15)
        pods = {p.name: p.uid for p in backend.list_pods("t2-apps")}

        # 1. Killed while ungating: the pass had committed all 96 admissions.
        sandbox.admin("POST", "/sandbox/faults", {"count": 1000, "delay": DELAY, "methods": ["PATCH"]})
        with celery_processes(tmp_path, beat=True, extra_env=ENV, queues="scheduling") as first:
            left = _kill_mid_enactment(first, sandbox, lambda: 96 - gated(backend, "t2-apps"), of=96)
            admitted = SchedulingDecision.objects.filter(action="ADMIT")
            assert admitted.count() == 96 and admitted.values("pass_seq").distinct().count() == 1
            assert Binding.objects.open().count() == 96
            assert len(EngineSnapshot.objects.get(cluster=cluster).state["allocations"]) == 96
            assert gated(backend, "t2-apps") == left > 0

            with celery_processes(tmp_path, name="second", extra_env=ENV, queues="scheduling") as second:
                wait_until(lambda: running(backend, "t2-apps") == 96, seconds=60)
                assert {p.name: p.uid for p in backend.list_pods("t2-apps")} == pods  # none recreated
                _assert_each_request_admitted_once(96)
                held = Binding.objects.open().filter(tenant=tenants["t2"])
                assert held.count() == 96 and held.filter(share="borrowed").count() == 32
                assert not Binding.objects.filter(event="close").exists()

                # 2. Killed while evicting: T1 takes its owned 8 back, 4 of them from T2's borrowed 4.
                sandbox.admin("POST", "/sandbox/faults", {"count": 1000, "delay": DELAY, "methods": ["POST"]})
                backend.apply(deployment("web", "t1-apps", 64, cpu="125m"))
                _kill_mid_enactment(second, sandbox, lambda: terminating(backend, "t2-apps"), of=32)
                evictions = SchedulingDecision.objects.filter(action="EVICT")
                assert evictions.count() == 32 and evictions.values("pass_seq").distinct().count() == 1

                with celery_processes(tmp_path, name="third", extra_env=ENV, queues="scheduling"):
                    wait_until(lambda: running(backend, "t1-apps") == 64, seconds=90)
                    wait_until(lambda: SchedulingRequest.objects.filter(tenant=tenants["t2"], state="Pending")
                               .count() == 32, seconds=30)

        victims = Counter(SchedulingDecision.objects.filter(action="EVICT").values_list("victim", flat=True))
        assert len(victims) == 32 and set(victims.values()) == {1}
        # Exactly the decided victims went; the other T2 pods are the same pods, still running.
        survivors = {p.name: p.uid for p in backend.list_pods("t2-apps") if GATE not in p.scheduling_gates}
        assert {f"t2-apps/{name}" for name in set(pods) - set(survivors)} == set(victims)
        assert all(pods[name] == uid for name, uid in survivors.items()) and len(survivors) == 64
        assert running(backend, "t2-apps") == 64 and gated(backend, "t2-apps") == 32  # replacements wait
        assert gated(backend, "t1-apps") == 0
        _assert_each_request_admitted_once(96 + 64)
        # Bindings: one open row per hold, each victim's closed once, as evicted.
        open_rows = Counter(Binding.objects.open().values_list("request", flat=True))
        assert set(open_rows.values()) == {1}
        assert len(open_rows) == 64 + 64
        closed = Binding.objects.filter(event="close")
        assert closed.count() == 32 and set(closed.values_list("reason", flat=True)) == {"EVICTED"}
        assert set(closed.values_list("request", flat=True)) == set(victims)
        assert Binding.objects.open().filter(tenant=tenants["t1"], share="owned").count() == 64


def _kill_mid_enactment(processes, sandbox, progress, *, of: int) -> int:
    """SIGKILL the worker as soon as its pass's first cluster call has landed; returns what is
    left undone once the calls it had in flight are through (the sandbox still serves them)."""
    wait_until(lambda: progress() >= 1, seconds=60, interval=0.02)
    processes.kill("worker")
    time.sleep(2 * DELAY + 0.5)  # the calls it had in flight (up to cycle.ENACT_THREADS) go through
    sandbox.admin("DELETE", "/sandbox/faults")
    done = progress()
    print(f"\nworker killed with {done} of {of} enacted")
    assert 0 < done < of, f"{done} of {of} enacted when the worker died: not mid-pass"
    return of - done


def _assert_each_request_admitted_once(total: int) -> None:
    admits = Counter(SchedulingDecision.objects.filter(action="ADMIT").values_list("request", flat=True))
    assert len(admits) == total and set(admits.values()) == {1}
