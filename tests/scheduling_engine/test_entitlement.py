"""The fast water-filling entitlement (fairshare.entitlement, benchmark B8) gives, value for
value, the entitlement of the definition in §10.8.

The reference below is the definition as first written: per resource, top-down, each child first
gets min(owned, demand); the parent's remainder goes tier by tier to the children with room, in
rounds of ``floor(budget · weight / Σ weights)`` (exact Fractions) capped by each child's room,
and when a round hands out nothing, one unit each by largest remainder, then id.  It took 174 ms
at XL; it stays here as the oracle, like ``naive_*`` for the accounting.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from scheduling.engine.fairshare import entitlement
from scheduling.engine.model import Config, Node, Settings, id_key
from scheduling.engine.tree import INF, Tree, compile_tree

from .strategies import configs


def reference(tree: Tree, demand: list[list[int]]) -> list[list[int]]:
    n = len(tree.ids)
    ent = [[0] * tree.R for _ in range(n)]
    for r in range(tree.R):
        ent[tree.root][r] = min(tree.owned[tree.root][r], demand[tree.root][r])
        stack = [tree.root]
        while stack:
            x = stack.pop()
            kids = tree.children[x]
            if not kids:
                continue
            budget = ent[x][r]
            give = {c: min(tree.owned[c][r], demand[c][r]) for c in kids}
            budget -= sum(give.values())
            budget = max(budget, 0)
            for tier in sorted({tree.nodes[c].share_tier for c in kids}, reverse=True):
                group = [c for c in kids if tree.nodes[c].share_tier == tier]
                budget = _reference_fill(tree, r, group, give, demand, budget)
            for c in kids:
                ent[c][r] = give[c]
            stack.extend(kids)
    return ent


def _reference_fill(tree: Tree, r: int, group: list[int], give: dict[int, int], demand, budget: int) -> int:
    def room(c: int) -> int:
        cap = demand[c][r]
        if tree.bl[c][r] < INF:
            cap = min(cap, tree.owned[c][r] + tree.bl[c][r])
        cap = min(cap, tree.cap[c][r])
        return max(0, cap - give[c])

    while budget > 0:
        open_ = [c for c in group if room(c) > 0 and tree.nodes[c].weight > 0]
        if not open_:
            return budget
        total_w = sum(Fraction(tree.nodes[c].weight) for c in open_)
        shares = {c: Fraction(budget) * tree.nodes[c].weight / total_w for c in open_}
        handed = 0
        for c in open_:
            amount = min(int(shares[c]), room(c))
            give[c] += amount
            handed += amount
        if handed == 0:
            ranked = sorted(open_, key=lambda c: (-(shares[c] - int(shares[c])), id_key(tree.ids[c])))
            for c in ranked:
                if budget - handed <= 0:
                    break
                give[c] += 1
                handed += 1
        budget -= handed
    return budget


WEIGHTS = st.sampled_from([Fraction(0), Fraction(1), Fraction(2), Fraction(3), Fraction(1, 2), Fraction(2, 3),
                           Fraction(5, 7), Fraction(7, 3)])


@st.composite
def demands(draw, tree: Tree) -> list[list[int]]:
    """Subtree demands, deliberately not additive (the function takes them as given): around the
    owned share, zero, or far above it, so remainders are both short and plentiful."""
    out = []
    for x in range(len(tree.ids)):
        row = []
        for r in range(tree.R):
            base = tree.owned[x][r]
            row.append(draw(st.one_of(st.integers(0, base + 3), st.integers(base, 3 * base + 20), st.just(0))))
        out.append(row)
    return out


@given(config=configs(max_nodes=15), data=st.data())
def test_entitlement_equals_the_definition_on_random_trees(config, data):
    config = replace(config, nodes=tuple(n if n.parent is None else replace(n, weight=data.draw(WEIGHTS))
                                         for n in config.nodes))
    capacity = {r: data.draw(st.integers(0, c)) for r, c in config.capacity.items()}
    tree = compile_tree(config, data.draw(st.sampled_from([None, capacity])))  # D1: degraded owned too
    demand = data.draw(demands(tree))
    assert entitlement(tree, demand) == reference(tree, demand)


@given(data=st.data())
def test_entitlement_equals_the_definition_with_wide_fan_outs(data):
    """Many siblings, mixed tiers and weights: the rounds, the caps and the unit-by-unit largest
    remainder all come into play."""
    k = data.draw(st.integers(2, 14))
    cap = data.draw(st.integers(1, 200))
    owned = [data.draw(st.integers(0, cap // k)) for _ in range(k)]
    nodes = [Node(id="root")] + [
        Node(id=f"c{i}", parent="root", owned={"u": owned[i]}, weight=data.draw(WEIGHTS),
             share_tier=data.draw(st.sampled_from([0, 0, 1, 2])),
             borrow_limit={"u": data.draw(st.one_of(st.none(), st.integers(0, cap)))},
             max={"u": data.draw(st.one_of(st.none(), st.integers(owned[i], cap)))})
        for i in range(k)]
    config = Config(version=1, resources=("u",), capacity={"u": cap}, nodes=tuple(nodes), settings=Settings())
    tree = compile_tree(config)
    demand = data.draw(demands(tree))
    assert entitlement(tree, demand) == reference(tree, demand)


def test_entitlement_hands_the_last_units_by_round_not_by_overall_remainder():
    """Weights 1 and 3 share 7: the first round gives 1 and 5 (shares 7/4, 21/4), the single unit
    left goes by the second round's remainder (3/4 beats 1/4) — to the heavier child, although
    the first round's remainders (3/4 for the lighter) would have favoured the other one."""
    nodes = (Node(id="root"), Node(id="a", parent="root", weight=Fraction(1)),
             Node(id="b", parent="root", weight=Fraction(3)))
    config = Config(version=1, resources=("u",), capacity={"u": 7}, nodes=nodes, settings=Settings())
    tree = compile_tree(config)
    demand = [[7], [7], [7]]
    ent = entitlement(tree, demand)
    assert (ent[tree.index["a"]][0], ent[tree.index["b"]][0]) == (1, 6)
    assert ent == reference(tree, demand)
