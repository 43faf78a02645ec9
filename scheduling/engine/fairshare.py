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
from math import gcd, lcm

from .tree import INF, Tree

DRS_INF = Fraction(INF)
ZERO = Fraction(0)


def drs(tree: Tree, x: int, balance: list[int]) -> Fraction | int:
    """DRS of node ``x`` given its balance vector (current, after-admission or after-removal):
    0 (an int) when ``x`` borrows nothing, else an exact Fraction (``DRS_INF`` for infinite)."""
    return drs_value(drs_key(tree, x, balance))


def drs_value(k: Ratio | int) -> Fraction | int:
    """The ``drs`` value of a ``drs_key``."""
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


def drs_text(tree: Tree, x: int, balance: list[int]) -> str:
    """``str(drs(tree, x, balance))`` without building a Fraction: every borrowing admission's
    explanation states its DRS after admission (benchmark B11)."""
    k = drs_key(tree, x, balance)
    if k.__class__ is not Ratio:
        return str(k)
    if k is RATIO_INF:
        return str(DRS_INF)
    g = gcd(k.n, k.d)
    n, d = k.n // g, k.d // g
    return str(n) if d == 1 else f"{n}/{d}"


def ratio_pair(k) -> tuple[int, int]:
    """A ``drs_key`` as numerator/denominator (0 and the infinite key included), so comparisons
    are integer cross-multiplications with the same outcome as on ``drs`` Fractions."""
    return (k, 1) if k.__class__ is int else (k.n, k.d)


def entitlement(tree: Tree, demand: list[list[int]]) -> list[list[int]]:
    """Top-down water-filling per resource.  ``demand[x][r]`` is the subtree demand (running plus
    pending).  Each child first receives min(owned, demand); the parent's remainder goes to unmet
    children by share tier (strictly), then in proportion to weight, capped by demand and by
    owned + borrow_limit, repeated until nothing changes; integer remainders by largest remainder,
    then id.

    The rounds are those of the definition (a proportional round hands out ``floor(share)``,
    capped by each child's room, and repeats on the children that still have room), so the result
    is value for value the same; what makes it fast (B8, ≤ 50 ms at XL) is that a round is
    integer arithmetic on weights scaled to a common denominator, and that a tier whose remainder
    covers every room — the usual case — is filled in one step, without rounds."""
    n = len(tree.ids)
    owned, demand_of = tree.owned, demand
    ent: list[list[int]] = [[0] * tree.R for _ in range(n)]
    root = tree.root
    ent[root] = [min(o, d) for o, d in zip(owned[root], demand[root], strict=True)]
    stack = [root]
    while stack:
        x = stack.pop()
        kids = tree.children[x]
        if not kids:
            continue
        stack.extend(kids)
        for c in kids:
            ent[c] = [min(o, d) for o, d in zip(owned[c], demand_of[c], strict=True)]
        budgets = [e - sum(ent[c][r] for c in kids) for r, e in enumerate(ent[x])]
        if all(b <= 0 for b in budgets):
            continue
        groups = _tier_groups(tree, kids)
        for r, budget in enumerate(budgets):
            for group in groups:
                if budget <= 0:
                    break
                budget = _fill(tree, r, group, ent, demand, budget)
    return ent


def _tier_groups(tree: Tree, kids: list[int]) -> list[tuple[list[int], list[int]]]:
    """The children that can receive a remainder (weight > 0), by share tier descending, each
    group with integer weights over a common denominator (same proportions as the Fractions)."""
    nodes = tree.nodes
    by_tier: dict[int, list[int]] = {}
    for c in kids:
        node = nodes[c]
        if node.weight.numerator > 0:  # a Fraction's denominator is positive: weight > 0
            by_tier.setdefault(node.share_tier, []).append(c)
    groups = []
    for tier in sorted(by_tier, reverse=True):
        group = by_tier[tier]
        ws = [nodes[c].weight for c in group]
        den = lcm(*(w.denominator for w in ws))
        groups.append((group, [w.numerator * (den // w.denominator) for w in ws]))
    return groups


def _fill(tree: Tree, r: int, group: tuple[list[int], list[int]], ent: list[list[int]], demand,
          budget: int) -> int:
    """Hand ``budget`` units of resource ``r`` to one tier's children; return what is left."""
    members, weights = group
    rooms = []
    for c in members:
        top = demand[c][r]
        bl = tree.bl[c][r]
        if bl < INF and tree.owned[c][r] + bl < top:
            top = tree.owned[c][r] + bl
        cap = tree.cap[c][r]
        if cap < top:
            top = cap
        rooms.append(max(0, top - ent[c][r]))
    total = sum(rooms)
    if budget >= total:  # every child fills up to its room, whatever the rounds' order
        for c, room in zip(members, rooms, strict=True):
            ent[c][r] += room
        return budget - total
    open_ = [i for i, room in enumerate(rooms) if room > 0]
    while budget > 0:
        open_ = [i for i in open_ if rooms[i] > 0]
        if not open_:
            return budget
        total_w = sum(weights[i] for i in open_)
        handed = 0
        for i in open_:
            amount = budget * weights[i] // total_w  # floor of the proportional share
            if amount > rooms[i]:
                amount = rooms[i]
            rooms[i] -= amount
            ent[members[i]][r] += amount
            handed += amount
        if handed == 0:
            # Every share is below one unit, so its fractional part is the share itself, i.e.
            # proportional to the weight: largest remainder, then id (children are in id order),
            # one unit each.
            for i in sorted(open_, key=lambda i: (-weights[i], i)):
                if budget - handed <= 0:
                    break
                rooms[i] -= 1
                ent[members[i]][r] += 1
                handed += 1
        budget -= handed
    return budget
