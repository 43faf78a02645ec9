"""Hypothesis properties P1–P18 of the specification (profiles in conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from scheduling.engine import clear_gates, decide, finish, release, set_capacity, submit, switch_config
from scheduling.engine.accounting import Ledger, naive_fits
from scheduling.engine.fairshare import entitlement
from scheduling.engine.incremental import carried
from scheduling.engine.model import Config, Node, Request, Settings, State
from scheduling.engine.tree import compile_tree
from scheduling.engine.validate import validate_config

from .conftest import STEPS
from .harness import check_pass, plan_auditor
from .strategies import configs, leaves, request_batches


def drive(data, config: Config, steps: int, *, capacity_drops=False, weights_switch=False):
    """Random stream: submissions, finishes, releases (some victims ignore SIGTERM), optional
    capacity drops and config switches; invariants after every pass; P13 on every pass."""
    state, t, serial = State(), 0, [0]
    problems: list[str] = []
    audit = plan_auditor(problems)
    dropped = False
    evict_edges: dict[str, list[tuple[int, str]]] = {}
    last_evicted: dict[str, int] = {}
    for _ in range(steps):
        t += data.draw(st.integers(1, 15))
        ids = sorted(state.requests)
        if ids and data.draw(st.integers(0, 2)) == 0:
            state = finish(state, [data.draw(st.sampled_from(ids))])
        due = [a.request for a in state.allocations.values()
               if a.terminating and a.deadline <= t and data.draw(st.integers(0, 3)) > 0]
        state = release(state, sorted(due), t)
        gated = sorted(rid for rid, q in state.requests.items() if q.gates)
        if gated and data.draw(st.integers(0, 2)) == 0:
            state = clear_gates(state, [data.draw(st.sampled_from(gated))])
        if capacity_drops and data.draw(st.integers(0, 9)) == 0:
            state = set_capacity(state, {r: data.draw(st.integers(0, c)) for r, c in config.capacity.items()})
            dropped = True
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
        state = submit(state, data.draw(request_batches(config, t, serial)))
        before = state
        plan = decide(config, state, t, audit=audit)
        assert not problems, problems
        if carried(state) is not None:
            # The state carries the previous pass's ledgers (incremental pass, B3): the outcome
            # must be exactly that of a pass from scratch on the same fields.
            scratch = decide(config, replace(state), t)
            assert scratch.decisions == plan.decisions and scratch.state == plan.state, "incremental ≠ full pass"
        check_pass(config, before, plan, feasible=not dropped)
        _no_reclaim_ping_pong(plan, state, evict_edges, last_evicted)
        state = plan.state
        again = decide(config, state, t)
        if again.decisions:
            import os
            if os.environ.get("ENGINE_DEBUG"):
                print("FIRST", [(d.action, d.reason, d.request, d.victim, d.preemptor, d.facts.get("victims"))
                                for d in plan.decisions])
                print("STATE", {k: (v.state, v.reason, v.victims) for k, v in state.status.items()})
                print("ALLOC", state.allocations)
        assert again.decisions == (), f"P13: second pass at t={t} decided {again.decisions[:3]}"
    return state


def _no_reclaim_ping_pong(plan, state, edges, last_evicted) -> None:
    """P7 for owned reclaim (H1): if q reclaimed from leaf L, nothing of L reclaims q back while
    q keeps running."""
    for d in plan.decisions:
        if d.action != "EVICT" or d.reason != "EVICT_RECLAIM_OWNED":
            continue
        victim, pre = d.victim, d.preemptor
        pre_leaf = state.requests[pre].leaf
        for t0, vleaf in edges.get(victim, []):
            if t0 >= last_evicted.get(victim, -1):
                assert vleaf != pre_leaf, f"P7: {pre} ({pre_leaf}) reclaims {victim} back"
        edges.setdefault(pre, []).append((d.time, state.requests[victim].leaf))
        last_evicted[victim] = d.time


@given(config=configs(), data=st.data())
def test_p1_p3_p5_p8_p14_invariants_on_random_streams(config, data):
    """P1, P3, P5, P8–P14 after every pass of a random stream (fair share random on/off)."""
    assert validate_config(config) == []
    drive(data, config, STEPS)


@given(config=configs(), data=st.data())
def test_invariants_survive_capacity_drops_and_config_switches(config, data):
    """D1/D2 and V6 in the stream: accounting, reasons, idempotence, plan legality still hold."""
    drive(data, config, STEPS // 2, capacity_drops=True, weights_switch=True)


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
    bound = 10 + 0 + config.settings.pass_interval + 20 + config.settings.release_slack
    for t in range(10, bound + 1):
        due = [a.request for a in state.allocations.values()
               if a.terminating and a.deadline <= t and data.draw(st.booleans())]
        state = release(state, sorted(due), t)
        state = decide(config, state, t).state
        if state.status["owner"].state == "Admitted":
            return
    raise AssertionError(f"P4: owner not admitted by {bound}: {state.status['owner']}")


@given(data=st.data())
def test_p15_p16_fair_share_reaches_a_fixed_point_near_the_entitlement(data):
    """P15/P16: static unit demand, ε = 0: evictions stop, each leaf ends within one request of
    the water-filling entitlement, and evictions ≤ the initial positive deviations."""
    k = data.draw(st.integers(2, 4))
    cap = data.draw(st.integers(6, 24))
    owned = [data.draw(st.integers(0, cap // k)) for _ in range(k)]
    nodes = [Node(id="root")] + [Node(id=f"L{i}", parent="root", owned={"u": owned[i]}, fairshare_delay=0)
                                 for i in range(k)]
    config = Config(version=1, resources=("u",), capacity={"u": cap}, nodes=tuple(nodes),
                    settings=Settings(fair_share_preemption=True))
    demand = [data.draw(st.integers(0, cap)) for _ in range(k)]
    state = submit(State(), [Request(id=f"a{j}", leaf="L0", demand={"u": 1}, reclaim_grace=1)
                             for j in range(demand[0])])
    state = decide(config, state, 0).state
    initial = {i: sum(1 for a in state.allocations.values() if a.leaf == f"L{i}") for i in range(k)}
    state = submit(state, [Request(id=f"x{i}_{j}", leaf=f"L{i}", demand={"u": 1}, created_at=1, reclaim_grace=1)
                           for i in range(1, k) for j in range(demand[i])])
    tree = compile_tree(config)
    dem = [[0] for _ in tree.ids]
    for i in range(k):
        dem[tree.index[f"L{i}"]] = [demand[i]]
    dem[tree.root] = [sum(demand)]
    ent = entitlement(tree, dem)
    evictions, last = 0, 0
    for t in range(1, 120):
        state = release(state, sorted(a.request for a in state.allocations.values()
                                      if a.terminating and a.deadline <= t), t)
        plan = decide(config, state, t)
        n = sum(1 for d in plan.decisions if d.action == "EVICT")
        if n:
            evictions, last = evictions + n, t
        state = plan.state
    assert last < 100, "P15: evictions did not stop"
    bound = sum(max(0, initial[i] - ent[tree.index[f"L{i}"]][0]) for i in range(k))
    assert evictions <= bound, ("P16", evictions, bound)
    for i in range(k):
        used = sum(a.demand["u"] for a in state.allocations.values() if a.leaf == f"L{i}")
        assert abs(used - ent[tree.index[f"L{i}"]][0]) <= 1, ("P15", i, used, ent[tree.index[f"L{i}"]][0])


@given(config=configs(fair_share=False), data=st.data())
def test_p17_owned_reclaim_ignores_weights_tiers_and_fences(config, data):
    """P17: whether a lone within-owned request reclaims does not depend on weight/tier/fence."""
    lv = leaves(config)
    batch = data.draw(request_batches(config, 0, [0])) + data.draw(request_batches(config, 0, [10]))
    state = decide(config, submit(State(), batch), 0).state
    state = State(requests={k: v for k, v in state.requests.items() if k in state.allocations},
                  status={k: v for k, v in state.status.items() if k in state.allocations},
                  allocations=state.allocations)
    q = data.draw(request_batches(config, 5, [50]))
    assume(q)
    q = [replace(q[0], leaf=data.draw(st.sampled_from(lv)))]
    other = replace(config, version=2, nodes=tuple(
        replace(n, weight=Fraction(data.draw(st.integers(0, 4))), share_tier=data.draw(st.integers(0, 2)),
                fence=data.draw(st.booleans())) for n in config.nodes))
    outcome = []
    for cfg in (config, other):
        plan = decide(cfg, submit(state, q), 5)
        outcome.append((plan.state.status[q[0].id].state,
                        sorted(d.reason for d in plan.decisions if d.reason == "EVICT_RECLAIM_OWNED") != []))
    assert outcome[0][1] == outcome[1][1], outcome


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
