"""Hypothesis properties of the specification (§11.3; profiles in conftest.py): P1–P14 and P18
on random streams and probes here; P15/P16 in test_p15_p16_fair_share.py, P17 in
test_p17_reclaim_independence.py."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import assume, event, given
from hypothesis import strategies as st

from scheduling.engine import clear_gates, decide, release, set_capacity, submit, switch_config
from scheduling.engine.accounting import Ledger, naive_fits
from scheduling.engine.incremental import carried
from scheduling.engine.model import Config, Request, State
from scheduling.engine.tree import compile_tree
from scheduling.engine.validate import validate_config

from .conftest import STEPS
from .harness import check_pass
from .plan_audit import plan_auditor
from .strategies import configs, leaves, request_batches
from .stream_checks import PreemptorWatch, finished_once, pass_accounts_once, released_once


def drive(data, config: Config, steps: int, *, capacity_drops=False, weights_switch=False, seen=None):
    """Random stream: submissions, finishes, releases (some victims ignore SIGTERM), optional
    capacity drops and config switches; invariants after every pass and every release (P14);
    P13 on every pass; every reserved preemptor admitted in time (P10), the stream drained of
    reservations at its end."""
    state, t, serial = State(), 0, [0]
    problems: list[str] = []
    audit = plan_auditor(problems, seen)
    watch = PreemptorWatch(config.settings.release_slack)
    dropped = False
    evict_edges: dict[str, list[tuple[int, str]]] = {}
    last_evicted: dict[str, int] = {}

    def one_pass(before: State, t: int) -> State:
        # No state hashes: nothing here reads them, and they cost more than the pass (P6 checks them).
        plan = decide(config, before, t, audit=audit, with_hash=False)
        assert not problems, problems
        if carried(before) is not None:
            # The state carries the previous pass's ledgers (incremental pass, B3): the outcome
            # must be exactly that of a pass from scratch on the same fields.
            scratch = decide(config, replace(before), t, with_hash=False)
            assert scratch.decisions == plan.decisions and scratch.state == plan.state, "incremental ≠ full pass"
        check_pass(config, before, plan, feasible=not dropped)
        pass_accounts_once(config, before, plan, t)
        _no_reclaim_ping_pong(config, plan, before, evict_edges, last_evicted)
        watch.after_pass(before, plan, t)
        _second_pass_is_silent(config, plan, t)
        return plan.state

    for _ in range(steps):
        t += data.draw(st.integers(1, 15))
        ids = sorted(state.requests)
        if ids and data.draw(st.integers(0, 2)) == 0:
            done = [data.draw(st.sampled_from(ids))]
            state = finished_once(state, done)
            watch.finished(done)
        due = [a.request for a in state.allocations.values()
               if a.terminating and a.deadline <= t and data.draw(st.integers(0, 3)) > 0]
        state = released_once(state, sorted(due), t)
        gated = sorted(rid for rid, q in state.requests.items() if q.gates)
        if gated and data.draw(st.integers(0, 2)) == 0:
            state = clear_gates(state, [data.draw(st.sampled_from(gated))])
        if capacity_drops and data.draw(st.integers(0, 9)) == 0:
            state = set_capacity(state, {r: data.draw(st.integers(0, c)) for r, c in config.capacity.items()})
            dropped = True
            watch.world_changed()
            evict_edges.clear()
        if weights_switch and data.draw(st.integers(0, 9)) == 0:
            # Some nodes' max drops to their owned (D2): the state may then be over max until
            # quota preemption (nodes with a delay) or finishes bring it back.
            lower = {n.id for n in config.nodes if n.parent is not None and data.draw(st.integers(0, 4)) == 0}
            cand = replace(config, version=config.version + 1, nodes=tuple(
                replace(n, weight=Fraction(data.draw(st.integers(0, 3))), fence=data.draw(st.booleans()),
                        max={r: n.owned.get(r, 0) for r in config.resources} if n.id in lower else n.max)
                for n in config.nodes))
            dropped = dropped or bool(lower)
            config, rejected = switch_config(config, cand, t)
            assert not rejected
            watch.world_changed()
        state = submit(state, data.draw(request_batches(config, t, serial)))
        state = one_pass(state, t)
    # Drain: the last victims are released by A1 at their deadline + slack at the latest, and
    # their preemptors must be admitted by that pass (PreemptorWatch.after_pass asserts it).
    end = watch.last_due()
    if end is not None and end > t:
        state = one_pass(state, end)
    return state


def _second_pass_is_silent(config: Config, plan, t: int) -> None:
    """P13: a second pass at the same instant decides nothing."""
    again = decide(config, plan.state, t, with_hash=False)
    assert again.decisions == (), f"P13: second pass at t={t} decided {again.decisions[:3]}"


def _no_reclaim_ping_pong(config: Config, plan, state, edges, last_evicted) -> None:
    """P7 for owned reclaim (H1): if q reclaimed from leaf L, nothing of L reclaims q back while
    q keeps running — unless nothing else borrowing on q's side can be taken and the decision
    says so (``reclaimed_back``: the owner is owed its share, P4).  Edges are forgotten when
    capacity drops: owned shrinks with it (D1)."""
    for d in plan.decisions:
        if d.action != "EVICT" or d.reason != "EVICT_RECLAIM_OWNED":
            continue
        victim, pre = d.victim, d.preemptor
        pre_leaf = state.requests[pre].leaf
        back = any(vleaf == pre_leaf for t0, vleaf in edges.get(victim, []) if t0 >= last_evicted.get(victim, -1))
        if back and d.facts.get("reclaimed_back"):
            # The owner's last resort (victims.Candidates._taken_back): P4 over P7, said so.
            event("P7: an owner took back a request that had reclaimed from it, nothing else borrowing")
        elif back:
            raise AssertionError(f"P7: {pre} ({pre_leaf}) reclaims {victim} back")
        edges.setdefault(pre, []).append((d.time, state.requests[victim].leaf))
        last_evicted[victim] = d.time


@given(config=configs(), data=st.data())
def test_p1_p3_p5_p8_p14_invariants_on_random_streams(config, data):
    """P1, P3, P5, P8–P14 after every pass of a random stream (fair share random on/off)."""
    assert validate_config(config) == []
    seen: dict[str, int] = {}
    drive(data, config, STEPS, seen=seen)
    _report_classes(seen)


@given(config=configs(), data=st.data())
def test_invariants_survive_capacity_drops_and_config_switches(config, data):
    """D1/D2 and V6 in the stream: accounting, reasons, idempotence, plan legality still hold."""
    seen: dict[str, int] = {}
    drive(data, config, STEPS // 2, capacity_drops=True, weights_switch=True, seen=seen)
    _report_classes(seen)


def _report_classes(seen: dict[str, int]) -> None:
    """Which preemption rules the stream exercised (``--hypothesis-show-statistics``)."""
    for cls, rule in (("R", "P-R"), ("F", "P-F"), ("B", "P-B"), ("W", "P-W")):
        if seen.get(cls):
            event(f"audited {rule} victims")


@given(config=configs(), data=st.data())
def test_p2_incremental_accounting_equals_definition(config, data):
    """P2/F3: Ledger.fit and Ledger.available agree with a from-scratch F1 evaluation."""
    tree = compile_tree(config)
    led = Ledger(tree)
    usage: dict[int, list[int]] = {}
    lv = [tree.index[x] for x in leaves(config)]
    held: list[tuple[int, list[int]]] = []
    for _ in range(25):
        leaf = data.draw(st.sampled_from(lv))
        vec = [data.draw(st.integers(0, max(1, config.capacity[r] // 3))) for r in config.resources]
        if held and data.draw(st.integers(0, 3)) == 0:
            i = data.draw(st.integers(0, len(held) - 1))
            l2, v2 = held.pop(i)
            led.remove(l2, v2)
            usage[l2] = [a - b for a, b in zip(usage[l2], v2, strict=True)]
            continue
        fast = led.fit(leaf, vec) is None
        slow = naive_fits(tree, usage, leaf, vec)
        assert fast == slow, (tree.ids[leaf], vec)
        for r in range(tree.R):
            best = 0
            for d in range(1, config.capacity[config.resources[r]] + 2):
                probe = [0] * tree.R
                probe[r] = d
                if not naive_fits(tree, usage, leaf, probe):
                    break
                best = d
            assert led.available(leaf, r) == best, ("available", tree.ids[leaf], r)
        if fast:
            led.add(leaf, vec)
            cur = usage.setdefault(leaf, [0] * tree.R)
            usage[leaf] = [a + b for a, b in zip(cur, vec, strict=True)]
            held.append((leaf, vec))


@given(config=configs(), data=st.data())
def test_p6_decide_is_deterministic(config, data):
    """P6: same input ⇒ byte-identical output; input order of one instant's submissions is moot."""
    batch = data.draw(request_batches(config, 0, [0])) + data.draw(request_batches(config, 0, [100]))
    a = decide(config, submit(State(), batch), 0)
    b = decide(config, submit(State(), list(reversed(batch))), 0)
    assert a.decisions == b.decisions and a.state == b.state


@given(config=configs(max_nodes=8), data=st.data())
def test_p4_owned_reclaim_sla(config, data):
    """P4: a request within owned at submit (reclaim Any, no lend-out grace) is admitted within
    reclaim_delay + pass_interval + max grace + release_slack, victims ignoring SIGTERM or not."""
    config = replace(config, nodes=tuple(replace(n, reclaim_policy="Any") for n in config.nodes))
    lv = leaves(config)
    owner = data.draw(st.sampled_from(lv))
    tree = compile_tree(config)
    r0 = config.resources[0]
    assume(tree.owned[tree.index[owner]][0] > 0)
    state = State()
    fill = [Request(id=f"f{i}", leaf=x, demand={r0: 1}, reclaim_grace=data.draw(st.sampled_from([0, 5, 20])))
            for i, x in enumerate(y for y in lv if y != owner for _ in range(config.capacity[r0]))]
    state = decide(config, submit(state, fill), 0).state
    led = Ledger(tree)
    for a in state.allocations.values():
        led.add(tree.index[a.leaf], tree.vec(a.demand))
    leaf = tree.index[owner]
    size = data.draw(st.integers(1, tree.owned[leaf][0]))
    vec = tree.vec({r0: size})
    probe = led.probe(leaf, vec)
    assume(all(probe[i][0] >= 0 for i, x in enumerate(tree.path[leaf]) if x != tree.root))
    state = submit(state, [Request(id="owner", leaf=owner, demand={r0: size}, created_at=10)])
    bound = 10 + tree.nodes[leaf].reclaim_delay + config.settings.pass_interval + 20 + config.settings.release_slack
    for t in range(10, bound + 1):
        due = [a.request for a in state.allocations.values()
               if a.terminating and a.deadline <= t and data.draw(st.booleans())]
        state = release(state, sorted(due), t)
        state = decide(config, state, t).state
        if state.status["owner"].state == "Admitted":
            return
    raise AssertionError(f"P4: owner not admitted by {bound}: {state.status['owner']}")


@given(config=configs(), kind=st.sampled_from(["V1", "V2", "V3"]), data=st.data())
def test_p18_invalid_versions_are_rejected_whole(config, kind, data):
    """P18/V: a broken version is rejected atomically and the previous stays in force."""
    nodes = list(config.nodes)
    i = data.draw(st.integers(1, len(nodes) - 1))
    n = nodes[i]
    r = config.resources[0]
    if kind == "V1":
        nodes[i] = replace(n, parent=n.id)
    elif kind == "V2":
        parent = next(p for p in nodes if p.id == n.parent)
        limit = config.capacity[r] if parent.parent is None else parent.owned.get(r, 0)
        nodes[i] = replace(n, owned={**n.owned, r: limit + 1})
    else:
        nodes[i] = replace(n, lend_limit={**n.lend_limit, r: n.owned.get(r, 0) + 1})
    bad = replace(config, version=2, nodes=tuple(nodes))
    kept, decisions = switch_config(config, bad, 7)
    assert kept is config
    assert decisions and decisions[0].reason == "REJECT_INVALID_CONFIG"
    assert kind in decisions[0].facts["rules"]
