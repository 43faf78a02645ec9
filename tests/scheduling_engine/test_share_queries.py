"""X4 share queries: ``tenant_status`` lends out only what other tenants actually hold of a
node's idle owned capacity, within its lend limit, exactly as ``who_is_borrowing_from``
attributes it; and it states the node's water-filling entitlement (§10.8) of what its subtree
runs and waits for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scheduling.engine import decide, submit
from scheduling.engine.accounting import Ledger
from scheduling.engine.explain import subtree_demand, tenant_status, who_is_borrowing_from
from scheduling.engine.fairshare import drs
from scheduling.engine.lending import flow
from scheduling.engine.model import Config, Node, Request, Settings
from scheduling.engine.simulate import initial_state
from scheduling.engine.tree import compile_tree

from .strategies import configs, leaves


def _config(capacity: int, *nodes: Node) -> Config:
    return Config(version=1, resources=("u",), capacity={"u": capacity}, nodes=(Node(id="root"), *nodes),
                  settings=Settings())


def _running(**per_leaf: int) -> list[dict]:
    return [{"id": f"{leaf}-{i}", "leaf": leaf, "demand": {"u": 1}} for leaf, n in per_leaf.items()
            for i in range(n)]


def _lent(config: Config, state, node: str) -> int:
    return tenant_status(config, state, node)["lent_out"]["u"]


def test_nobody_borrowing_lends_nothing():
    config = _config(16, Node(id="T1", parent="root", owned={"u": 8}), Node(id="T2", parent="root", owned={"u": 8}))
    state = initial_state(config, _running(T1=2, T2=3))
    assert _lent(config, state, "T1") == 0 and _lent(config, state, "T2") == 0
    assert who_is_borrowing_from(config, state, "T1") == {}


def test_the_seed_case_lends_what_the_borrower_holds_beyond_its_owned_share():
    config = _config(16, Node(id="T1", parent="root", owned={"u": 8}),
                     Node(id="T2", parent="root", owned={"u": 8}, borrow_limit={"u": 4}))
    state = initial_state(config, _running(T1=4, T2=12))
    assert tenant_status(config, state, "T1")["lent_out"] == {"u": 4}
    assert who_is_borrowing_from(config, state, "T1") == {"T2": {"u": 4}}
    assert _lent(config, state, "T2") == 0


def test_a_lend_limit_of_0_lends_nothing_the_unowned_pool_lends_instead():
    config = _config(20, Node(id="T1", parent="root", owned={"u": 8}, lend_limit={"u": 0}),
                     Node(id="T2", parent="root", owned={"u": 8}))
    state = initial_state(config, _running(T2=12))  # 4 beyond owned: the root's 4 nobody owns
    assert _lent(config, state, "T1") == 0 and who_is_borrowing_from(config, state, "T1") == {}


def test_idle_capacity_beyond_the_lend_limit_is_not_lent():
    config = _config(16, Node(id="T1", parent="root", owned={"u": 8}, lend_limit={"u": 3}),
                     Node(id="T2", parent="root", owned={"u": 8}))
    state = initial_state(config, _running(T1=1, T2=11))  # T1 idle 7, of which it may lend 3
    assert _lent(config, state, "T1") == 3
    assert who_is_borrowing_from(config, state, "T1") == {"T2": {"u": 3}}


def test_two_idle_owners_lend_to_one_borrower_in_proportion_to_their_idle_capacity():
    config = _config(24, Node(id="A", parent="root", owned={"u": 8}), Node(id="B", parent="root", owned={"u": 8}),
                     Node(id="C", parent="root", owned={"u": 8}))
    state = initial_state(config, _running(A=2, B=5, C=14))  # idle 6 and 3; C borrows 6
    assert (_lent(config, state, "A"), _lent(config, state, "B")) == (4, 2)
    assert who_is_borrowing_from(config, state, "A") == {"C": {"u": 4}}
    assert who_is_borrowing_from(config, state, "B") == {"C": {"u": 2}}


def test_siblings_lend_before_cousins():
    """b's debt is met inside P by its sibling a, as the balance meets it: c, a cousin, lends
    nothing although it is idle too."""
    config = _config(24, Node(id="P", parent="root", owned={"u": 16}), Node(id="a", parent="P", owned={"u": 8}),
                     Node(id="b", parent="P", owned={"u": 8}), Node(id="Q", parent="root", owned={"u": 8}),
                     Node(id="c", parent="Q", owned={"u": 8}))
    state = initial_state(config, _running(a=4, b=12, c=4))
    assert who_is_borrowing_from(config, state, "a") == {"b": {"u": 4}}
    assert _lent(config, state, "c") == 0 and _lent(config, state, "Q") == 0
    assert _lent(config, state, "P") == 0  # lending inside P is P's own business


def test_a_lend_limited_idle_sibling_leaves_the_parent_borrowing_from_above():
    """§10.4's example: c1{O=5, LL=0} idle, c2{O=5} using 8: P borrows 3, from Q's idle share."""
    config = _config(20, Node(id="P", parent="root", owned={"u": 10}),
                     Node(id="c1", parent="P", owned={"u": 5}, lend_limit={"u": 0}),
                     Node(id="c2", parent="P", owned={"u": 5}), Node(id="Q", parent="root", owned={"u": 10}))
    state = initial_state(config, _running(c2=8, Q=2))
    assert _lent(config, state, "c1") == 0
    assert tenant_status(config, state, "P")["borrowed"] == {"u": 3}
    assert who_is_borrowing_from(config, state, "Q") == {"c2": {"u": 3}}


def test_the_entitlement_shares_what_runs_and_waits_by_water_filling():
    """T02 at t=10: T1 runs 4 and reserves 4 more, T2 runs 12 (4 of them now terminating): each
    is entitled to its owned 8.  Before T1 asked for more, T2 was entitled to the 12 it ran."""
    config = _config(16, Node(id="T1", parent="root", owned={"u": 8}),
                     Node(id="T2", parent="root", owned={"u": 8}, borrow_limit={"u": 4}))
    state = initial_state(config, _running(T1=4, T2=12))
    assert tenant_status(config, state, "T1")["entitlement"] == {"u": 4}
    assert tenant_status(config, state, "T2")["entitlement"] == {"u": 12}
    state = submit(state, [Request(id=f"more{i}", leaf="T1", demand={"u": 1}, created_at=10) for i in range(4)])
    state = decide(config, state, 10).state
    assert sum(1 for s in state.status.values() if s.state == "Reserved") == 4
    assert tenant_status(config, state, "T1")["entitlement"] == {"u": 8}
    assert tenant_status(config, state, "T2")["entitlement"] == {"u": 8}
    assert tenant_status(config, state, "root")["entitlement"] == {"u": 16}


def test_the_entitlement_leaves_out_requests_that_can_never_run():
    config = _config(16, Node(id="T1", parent="root", owned={"u": 8}, max={"u": 8}),
                     Node(id="T2", parent="root", owned={"u": 8}))
    state = submit(initial_state(config, _running(T1=2)), [Request(id="huge", leaf="T1", demand={"u": 9})])
    state = decide(config, state, 0).state
    assert state.status["huge"].state == "Rejected"
    assert tenant_status(config, state, "T1")["entitlement"] == {"u": 2}


@st.composite
def usage_states(draw):
    """Any usage, feasible or not (a lowered quota, a capacity drop): the attribution must hold."""
    config = draw(configs(max_nodes=10))
    running = []
    for leaf in leaves(config):
        for i in range(draw(st.integers(0, 3))):
            demand = {r: draw(st.integers(0, config.capacity[r] // 2)) for r in config.resources}
            running.append({"id": f"{leaf}-{i}", "leaf": leaf, "demand": demand})
    return config, initial_state(config, running)


@given(case=usage_states())
def test_lent_out_is_what_who_is_borrowing_from_attributes_within_lend_limits(case):
    config, state = case
    tree = compile_tree(config)
    led = Ledger(tree)
    for a in state.allocations.values():
        led.add(tree.index[a.leaf], tree.vec(a.demand))
    fl = flow(tree, led.used)
    for x, node in enumerate(tree.ids):
        status = tenant_status(config, state, node)
        lent = status["lent_out"]
        borrowers = who_is_borrowing_from(config, state, node)
        assert status["drs"] == str(drs(tree, x, [led.balance(x, r) for r in range(tree.R)]))
        for r, name in enumerate(config.resources):
            b = led.balance(x, r)
            assert fl.supply[x][r] - fl.demand[x][r] == b  # the flow is the balance of §10.4 (F3 ≡ F1)
            assert (status["used"][name], status["borrowed"][name]) == (led.used[x][r], max(0, -b))
            assert lent[name] == sum(q.get(name, 0) for q in borrowers.values())
            assert lent[name] <= fl.offer[x][r] <= max(0, b)
            if tree.ll[x][r] is not None:
                assert lent[name] <= tree.ll[x][r]
        for borrower, amounts in borrowers.items():
            i = tree.index[borrower]
            assert tree.is_leaf[i] and x not in tree.path[i]
            for name, q in amounts.items():
                r = tree.rindex[name]
                assert 0 < q <= led.used[i][r] - tree.owned[i][r]


@given(case=usage_states())
def test_the_entitlement_is_the_water_filling_of_the_subtree_demand(case):
    """Every node gets at least what it owns of its demand and never more than it wants; children
    share out their parent's entitlement."""
    config, state = case
    tree = compile_tree(config)
    demand = subtree_demand(tree, state)
    ent = {node: tenant_status(config, state, node)["entitlement"] for node in tree.ids}
    for x, node in enumerate(tree.ids):
        for r, name in enumerate(config.resources):
            assert min(tree.owned[x][r], demand[x][r]) <= ent[node][name] <= demand[x][r]
            assert sum(demand[c][r] for c in tree.children[x]) == demand[x][r] or not tree.children[x]
            assert sum(ent[tree.ids[c]][name] for c in tree.children[x]) <= ent[node][name]
