"""Fair share among borrowers (§10.8): dominant resource share and informational entitlement.

DRS(x) = max_r borrowed(x, r) / L(parent(x), r) / weight(x), with borrowed = max(0, −B(x, r)) and
L = the potential capacity of the parent (K ``calculateLendable``).  All values are exact
``Fraction``s (N1); "infinite" (weight 0 while borrowing, or nothing lendable) is ``DRS_INF``,
a Fraction larger than any finite share a tree of integer quantities can produce.

Decisions use DRS only (K's proof that S2-a/S2-b cannot cycle relies on it).  The water-filling
entitlement is for dashboards and for checking fixed points (property P15).
"""

from __future__ import annotations

from fractions import Fraction

from .model import id_key
from .tree import INF, Tree

DRS_INF = Fraction(INF)
ZERO = Fraction(0)


def drs(tree: Tree, x: int, balance: list[int]) -> Fraction | int:
    """DRS of node ``x`` given its balance vector (current, after-admission or after-removal):
    0 (an int) when ``x`` borrows nothing, else an exact Fraction (``DRS_INF`` for infinite)."""
    k = drs_key(tree, x, balance)
    if k.__class__ is not Ratio:
        return k
    return DRS_INF if k is RATIO_INF else Fraction(k.n, k.d)


class Ratio:
    """A non-negative rational n/d compared by integer cross-multiplication: ``drs_key`` orders
    tournament keys exactly like ``drs`` without ``Fraction``'s normalisation and type checks."""

    __slots__ = ("n", "d")

    def __init__(self, n: int, d: int):
        self.n, self.d = n, d

    def __eq__(self, other) -> bool:
        return other.__class__ is Ratio and self.n * other.d == other.n * self.d

    def __lt__(self, other) -> bool:
        if other.__class__ is Ratio:
            return self.n * other.d < other.n * self.d
        return self.n < other * self.d

    def __gt__(self, other) -> bool:
        if other.__class__ is Ratio:
            return self.n * other.d > other.n * self.d
        return self.n > other * self.d

    __hash__ = None


RATIO_INF = Ratio(INF, 1)


def drs_key(tree: Tree, x: int, balance: list[int]) -> Ratio | int:
    """``drs`` as a sort key: 0 (an int) when ``x`` borrows nothing, else an exact ``Ratio``."""
    p = tree.parent[x]
    if p < 0:
        return 0
    bn, bd = 0, 1
    lendable = tree.lendable[p]
    for r, b in enumerate(balance):
        if b >= 0:
            continue
        lend = lendable[r]
        if lend <= 0:
            return RATIO_INF
        if -b * bd > bn * lend:
            bn, bd = -b, lend
    if bn == 0:
        return 0
    weight = tree.nodes[x].weight
    if not weight.numerator:
        return RATIO_INF
    return Ratio(bn * weight.denominator, bd * weight.numerator)


def entitlement(tree: Tree, demand: list[list[int]]) -> list[list[int]]:
    """Top-down water-filling per resource.  ``demand[x][r]`` is the subtree demand (running plus
    pending).  Each child first receives min(owned, demand); the parent's remainder goes to unmet
    children by share tier (strictly), then in proportion to weight, capped by demand and by
    owned + borrow_limit, repeated until nothing changes; integer remainders by largest remainder,
    then id."""
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
                budget = _fill(tree, r, group, give, demand, budget)
            for c in kids:
                ent[c][r] = give[c]
            stack.extend(kids)
    return ent


def _fill(tree: Tree, r: int, group: list[int], give: dict[int, int], demand, budget: int) -> int:
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
            # Largest remainder, then id: hand out single units so the loop always progresses.
            ranked = sorted(open_, key=lambda c: (-(shares[c] - int(shares[c])), id_key(tree.ids[c])))
            for c in ranked:
                if budget - handed <= 0:
                    break
                give[c] += 1
                handed += 1
        budget -= handed
    return budget
