"""P17: owned reclaim is independent of weights, share tiers and fences (§10.14, K#4333, Y fences).

Each example builds the situation the rule is about: borrowers in the other leaves fill the
cluster, the owner's idle share included, then a request of the owner arrives that is within
owned (§10.5).  The same pass is decided under the config and under a copy with other weights,
tiers and fences; what happens to the owner's request must be the same — whether it reclaims,
its state after the pass, and whether it runs once its victims are gone — only the victims may
differ.  The test also counts the examples that really reclaim: a generator that never produces
a reclaim would make the comparison vacuous.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import assume, event, given
from hypothesis import strategies as st

from scheduling.engine import decide, release, submit
from scheduling.engine.accounting import Ledger
from scheduling.engine.model import BorrowPreempt, Config, Request, State
from scheduling.engine.tree import compile_tree

from .plan_audit import View
from .strategies import configs, leaves

RECLAIM_RULE = "EVICT_RECLAIM_OWNED"


def test_p17_owned_reclaim_ignores_weights_tiers_and_fences():
    tally = {"examples": 0, "reclaims": 0}

    @given(config=configs(fair_share=False), data=st.data())
    def same_outcome(config, data):
        reclaims = _compare(config, data)
        tally["examples"] += 1
        tally["reclaims"] += reclaims
        event("owner reclaims" if reclaims else "owner does not reclaim")

    same_outcome()
    # Not vacuous: most examples really reclaim (about 5 in 6 in both profiles; the others are
    # mostly owners under reclaim_policy LowerPriority without a lower-priority borrower).
    assert tally["reclaims"] * 2 >= tally["examples"] > 0, tally


def _compare(config: Config, data) -> bool:
    # Only owned reclaim is under test: borrow-preempt plans may depend on fences (P-B), and
    # with fair share off no other class reaches outside the owner's leaf, which is empty.
    # Borrowers may use the owner's share (no borrow limit or max caps them, no lend limit on
    # the owner's path keeps it), or most owners would simply find their share idle.
    tree = compile_tree(config)
    r0 = config.resources[0]
    owners = [x for x in leaves(config) if tree.owned[tree.index[x]][0] > 0]
    assume(owners)
    owner = data.draw(st.sampled_from(owners))
    path = {tree.ids[x] for x in tree.path[tree.index[owner]]}
    config = replace(config, nodes=tuple(
        replace(n, borrow_preempt=BorrowPreempt(), borrow_limit={}, max={},
                lend_limit={} if n.id in path else n.lend_limit,
                reclaim_policy=data.draw(st.sampled_from(["Any", "Any", "LowerPriority"])) if n.id == owner
                else n.reclaim_policy)
        for n in config.nodes))
    tree = compile_tree(config)
    # Borrowers: unit requests in every other leaf, as many as the cluster holds.
    fill = [Request(id=f"f{i}", leaf=x, demand={r0: 1}, priority=data.draw(st.sampled_from([0, 50, 100])),
                    reclaim_grace=data.draw(st.sampled_from([0, 5, 30])))
            for i, x in enumerate(y for y in leaves(config) if y != owner for _ in range(config.capacity[r0]))]
    state = decide(config, submit(State(), fill), 0).state
    leaf = tree.index[owner]
    size = data.draw(st.integers(1, tree.owned[leaf][0]))
    view = View.of(tree, _usage(tree, state))
    assume(view.within_owned(leaf, tree.vec({r0: size}), [0]))
    q = Request(id="owner", leaf=owner, demand={r0: size}, created_at=5,
                priority=data.draw(st.sampled_from([0, 50, 100])), preemptible=data.draw(st.integers(0, 3)) > 0)
    other = replace(config, version=2, nodes=tuple(
        replace(n, weight=Fraction(data.draw(st.integers(0, 4))), share_tier=data.draw(st.integers(0, 2)),
                fence=data.draw(st.booleans())) for n in config.nodes))
    delay = tree.nodes[leaf].reclaim_delay
    first, second = (_outcome(cfg, submit(state, [q]), 5, delay) for cfg in (config, other))
    assert first == second, (first, second)
    return first[0]


def _usage(tree, state: State) -> Ledger:
    led = Ledger(tree)
    for a in state.allocations.values():
        led.add(tree.index[a.leaf], tree.vec(a.demand))
    return led


def _outcome(config: Config, state: State, now: int, delay: int) -> tuple:
    """(reclaims?, the owner's state once its reclaim delay has passed, its state once every
    victim is released).  The delay runs from the pass that accepts the request."""
    plan = decide(config, state, now)
    decisions = list(plan.decisions)
    if delay:
        now += delay
        plan = decide(config, plan.state, now)
        decisions += plan.decisions
    reclaims = any(d.reason == RECLAIM_RULE and d.preemptor == "owner" for d in decisions)
    after = plan.state.status["owner"].state
    leaving = sorted(a.request for a in plan.state.allocations.values() if a.terminating)
    end = max([now + 1] + [plan.state.allocations[v].deadline for v in leaving])
    later = decide(config, release(plan.state, leaving, end), end).state.status["owner"].state
    return reclaims, after, later
