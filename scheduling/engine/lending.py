"""Who lends to whom (X4): the balance of §10.4 read as a flow, for the explain queries only.

The engine tracks no pairwise lending (like K): a borrowing admission draws on a balance, not on
a lender. ``lent_out`` of ``tenant_status`` and ``who_is_borrowing_from`` attribute that debt, and
both read it from this one flow, so they always agree: lent_out(x, r) is the sum over borrowers of
what who_is_borrowing_from(x) attributes.

Per resource, bottom-up, as the balance B is defined:

* a leaf holds supply S = max(0, owned − U), its idle capacity, and demand D = max(0, U − owned),
  its debt (a borrower);
* an inner node p holds supply S(p) = pool(p) + Σ_c offer(c) (its private pool is its own idle
  capacity) and demand D(p) = Σ_c need(c);
* M = min(S, D) is lent at that node.  Every lender's supply present there is drawn in the same
  proportion M / S, every borrower's demand present there covered in the proportion M / D, and a
  lender's part of M goes to the borrowers in proportion to their demand;
* what is left goes up: need = D − M, and offer = min(S − M, LL), every lender's remainder scaled
  alike: idle capacity beyond a lend limit is not lendable, and a lend limit of 0 lends nothing.

S − D is then B, so every node offers min(B, LL) and needs max(0, −B), exactly the terms of the
balance: siblings lend first, cousins what their subtrees leave, as admission does.

``lent_to(x)`` counts what the lenders of x's subtree (its leaves, its inner nodes' pools) lend
to borrowers outside it; lending inside the subtree is x's own business.  The amounts are exact
rationals: per resource their sum is rounded down to whole units (lent out never overstates), and
the units go to the borrowers by the floor of their part, then one each by largest remainder,
then id, so that the parts add up to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor

from .model import id_key
from .tree import Tree, per_tree


@dataclass(frozen=True)
class Flow:
    """Per node and resource: supply, demand, and what goes up (offer, need)."""

    supply: list[list[int]]
    demand: list[list[int]]
    offer: list[list[int]]
    need: list[list[int]]


def flow(tree: Tree, used: list[list[int]]) -> Flow:
    """The flow of the balance for the subtree totals ``used`` (U, Running + Terminating)."""
    n, R = len(tree.ids), tree.R
    supply = [[0] * R for _ in range(n)]
    demand = [[0] * R for _ in range(n)]
    offer = [[0] * R for _ in range(n)]
    need = [[0] * R for _ in range(n)]
    for x in bottom_up(tree):
        kids = tree.children[x]
        for r in range(R):
            if kids:
                pool = tree.owned[x][r] - sum(tree.owned[c][r] for c in kids)
                s = pool + sum(offer[c][r] for c in kids)
                d = sum(need[c][r] for c in kids)
            else:
                s = max(0, tree.owned[x][r] - used[x][r])
                d = max(0, used[x][r] - tree.owned[x][r])
            m = min(s, d)
            supply[x][r], demand[x][r], need[x][r] = s, d, d - m
            if x != tree.root:
                lim = tree.ll[x][r]
                offer[x][r] = s - m if lim is None else min(s - m, lim)
    return Flow(supply, demand, offer, need)


def lent_to(tree: Tree, fl: Flow, x: int) -> dict[int, list[int]]:
    """Borrowing leaf → per resource, whole units it holds of what x's subtree lends (see above);
    leaves that hold nothing of it are left out."""
    out: dict[int, list[int]] = {}
    for r in range(tree.R):
        for b, units in _apportion(tree, _exact(tree, fl, x, r)).items():
            out.setdefault(b, [0] * tree.R)[r] = units
    return {b: out[b] for b in sorted(out)}


def _exact(tree: Tree, fl: Flow, x: int, r: int) -> dict[int, Fraction]:
    """Borrowing leaf → the exact part of resource r it holds of what x's subtree lends."""
    s = Fraction(fl.offer[x][r])  # x's subtree's supply present at the next level up
    if not s:
        return {}
    above = tree.path[x][1:]
    present = _present_demand(tree, fl, x, r, set(above))
    exact: dict[int, Fraction] = {}
    for a in above:
        supply, demand = fl.supply[a][r], fl.demand[a][r]
        lent = min(supply, demand)
        if lent:
            drawn = s * lent / supply
            for b, d in present.get(a, ()):
                exact[b] = exact.get(b, 0) + drawn * d / demand
        s = s * fl.offer[a][r] / supply  # supply > 0: it holds s
        if not s:
            break
    return exact


def _present_demand(tree: Tree, fl: Flow, x: int, r: int, above: set[int]) -> dict[int, list]:
    """Per node of ``above``: the borrowing leaves outside x whose debt reaches it, each with the
    part that does (each node passes up its demand's uncovered proportion need / D)."""
    present: dict[int, list] = {}
    for b in _leaves(tree):
        if fl.demand[b][r] == 0 or x in tree.path[b]:
            continue
        d = Fraction(fl.demand[b][r])
        for y in tree.path[b]:
            if y in above:
                present.setdefault(y, []).append((b, d))
            d = d * fl.need[y][r] / fl.demand[y][r]  # d > 0: y's demand holds it
            if not d:
                break
    return present


def _apportion(tree: Tree, exact: dict[int, Fraction]) -> dict[int, int]:
    """Whole units, floor(Σ exact) in all, each borrower the floor of its part and then one more
    by largest remainder, then id; borrowers left with 0 are dropped."""
    total = floor(sum(exact.values(), Fraction(0)))
    units = {b: floor(v) for b, v in exact.items()}
    spare = total - sum(units.values())
    for b in sorted(exact, key=lambda b: (-(exact[b] - units[b]), id_key(tree.ids[b])))[:spare]:
        units[b] += 1
    return {b: u for b, u in units.items() if u}


@per_tree
def bottom_up(tree: Tree) -> list[int]:
    """Every node, children before their parent (deepest first)."""
    return sorted(range(len(tree.ids)), key=lambda x: -tree.depth[x])


@per_tree
def _leaves(tree: Tree) -> list[int]:
    return [x for x in range(len(tree.ids)) if tree.is_leaf[x]]
