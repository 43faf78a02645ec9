"""Rules X: the closed set of reason codes and the facts that explain each decision.

Every decision carries exactly one reason code from ``Reason`` (X1).  Pending reasons that are
about capacity carry a binding constraint (node, resource, available, needed) with the node's
numbers (X2); evictions name their preemptor, rule and victim-side node with its numbers before
and after (X3).  Messages are derived from the facts only (wording.py), so the same decision
always reads the same (N3).  The query helpers (X4) read a State and never decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from itertools import chain
from operator import add, itemgetter, sub

from .fairshare import drs, drs_text, entitlement
from .lending import bottom_up, flow, lent_to
from .model import Binding, Config, State
from .tree import INF, Tree, compile_tree, per_tree


class Reason(StrEnum):
    ADMITTED_WITHIN_OWNED = "ADMITTED_WITHIN_OWNED"
    ADMITTED_BORROWING = "ADMITTED_BORROWING"
    ADMITTED_BY_TRANSFER = "ADMITTED_BY_TRANSFER"
    PENDING_NO_CAPACITY = "PENDING_NO_CAPACITY"
    PENDING_BORROW_LIMIT = "PENDING_BORROW_LIMIT"
    PENDING_LEND_LIMIT = "PENDING_LEND_LIMIT"
    PENDING_MAX = "PENDING_MAX"
    PENDING_GRACE_EXCEEDS_LENDER_SLA = "PENDING_GRACE_EXCEEDS_LENDER_SLA"
    PENDING_NON_PREEMPTIBLE_NEEDS_OWNED = "PENDING_NON_PREEMPTIBLE_NEEDS_OWNED"
    PENDING_STRICT_FIFO_BLOCKED = "PENDING_STRICT_FIFO_BLOCKED"
    PENDING_PREEMPTION_DELAY = "PENDING_PREEMPTION_DELAY"
    PENDING_FAIRSHARE_PROTECTED = "PENDING_FAIRSHARE_PROTECTED"
    PENDING_BUDGET_EXHAUSTED = "PENDING_BUDGET_EXHAUSTED"
    PENDING_NO_VICTIMS = "PENDING_NO_VICTIMS"
    PENDING_WAITING_FOR_VICTIMS = "PENDING_WAITING_FOR_VICTIMS"
    PENDING_GATES = "PENDING_GATES"
    REJECT_NEVER_FITS = "REJECT_NEVER_FITS"
    REJECT_UNKNOWN_RESOURCE = "REJECT_UNKNOWN_RESOURCE"
    REJECT_INVALID_CONFIG = "REJECT_INVALID_CONFIG"
    EVICT_RECLAIM_OWNED = "EVICT_RECLAIM_OWNED"
    EVICT_FAIR_SHARE = "EVICT_FAIR_SHARE"
    EVICT_BORROW_PREEMPT = "EVICT_BORROW_PREEMPT"
    EVICT_WITHIN_LEAF_PRIORITY = "EVICT_WITHIN_LEAF_PRIORITY"
    EVICT_QUOTA_DECREASE = "EVICT_QUOTA_DECREASE"


DEGRADED_CAPACITY = "DEGRADED_CAPACITY"  # modifier, not a reason

BINDING_REASON = {
    "capacity": Reason.PENDING_NO_CAPACITY,
    "borrow_limit": Reason.PENDING_BORROW_LIMIT,
    "lend_limit": Reason.PENDING_LEND_LIMIT,
    "max": Reason.PENDING_MAX,
}

CLASS_RULE = {
    "R": Reason.EVICT_RECLAIM_OWNED,
    "F": Reason.EVICT_FAIR_SHARE,
    "B": Reason.EVICT_BORROW_PREEMPT,
    "W": Reason.EVICT_WITHIN_LEAF_PRIORITY,
}


# A Binding's numbers at its node (model.Binding), in the facts when they apply.
_BINDING_NUMBERS = ("used", "owned", "borrow_limit", "max", "free", "lender_unused", "lend_limit")


def binding_facts(b: Binding | None) -> dict | None:
    if b is None:
        return None
    out = {"node": b.node, "resource": b.resource, "available": b.available, "needed": b.needed, "kind": b.kind}
    if b.via is not None:
        out["via"] = b.via
    for name in _BINDING_NUMBERS:
        value = getattr(b, name)
        if value is not None:
            out[name] = value
    return out


def victim_side(tree: Tree, ledger, x: int, vec: list[int]) -> tuple[dict, dict]:
    """What victim-side node ``x`` uses and borrows now, of the resources ``vec`` takes: read
    before and after an eviction or shrink (X3)."""
    res = tree.config.resources
    used, borrowed = {}, {}
    for r, d in enumerate(vec):
        if d > 0:
            used[res[r]] = ledger.used[x][r]
            borrowed[res[r]] = max(0, -ledger.balance(x, r))
    return used, borrowed


def victim_side_limits(tree: Tree, x: int, vec: list[int]) -> dict:
    """Owned (and finite borrow limits) of victim-side node ``x``, for the resources ``vec`` takes."""
    res = tree.config.resources
    out: dict = {"owned": {res[r]: tree.owned[x][r] for r, d in enumerate(vec) if d > 0}}
    limits = {res[r]: tree.bl[x][r] for r, d in enumerate(vec) if d > 0 and tree.bl[x][r] < INF and x != tree.root}
    if limits:
        out["borrow_limit"] = limits
    return out


def admit_facts(tree: Tree, q, vec: list[int], path: list[int], after: list[int], facts: dict,
                borrowing: tuple | None) -> dict:
    """The facts of an ADMIT: leaf, path and, per path node below the root, owned (and finite
    borrow limits) and used before/after for the resources the request asked for (as in the
    specification's decision record: the others took no part in the admission, and the root's
    numbers are the cluster's, told by its capacity); for a borrowing admission, the lender
    scope, the amounts borrowed and the DRS after.  ``after`` is the usage of the path's nodes
    after admission, node after node, R values each (evaluate.record_admission).

    The cycle explains every decision of every pass, so this runs for every admission (B11):
    what depends only on the tree and the demand (names, amounts, owned numbers, the path's
    names) is built once per tree and shared.  Facts are read only (the cycle persists copies)."""
    shape = _demand_shapes(tree).get(tuple(vec))
    if shape is None:
        shape = _demand_shapes(tree)[tuple(vec)] = _DemandShape(tree, vec)
    names, amounts, m = shape.names, shape.amounts, shape.m
    numbers = shape.picker(len(path) - 1)(after)  # the asked resources of each node below the root
    per_node = {}
    # zip without strict=: every slice has the m asked resources by construction, and a keyword
    # argument costs more than the zip itself (B11).
    i = 0
    for name, owned, limits in shape.along(path):
        used_after = numbers[i:i + m]
        i += m
        entry = per_node[name] = {"owned": owned,
                                  "used_before": dict(zip(names, map(sub, used_after, amounts))),  # noqa: B905
                                  "used_after": dict(zip(names, used_after))}  # noqa: B905
        if limits is not None:
            entry["borrow_limit"] = limits
    # Literal dicts rather than a copy and updates: most admissions bring no facts of their own.
    if borrowing is None:
        own = {"leaf": q.leaf, "path": _path_names(tree)[path[0]], "per_node": per_node}
    else:
        h, nb = borrowing
        if nb is None:  # a plain tree's admission: B(h) after it is SQ − usage, and usage is what was used
            i = path.index(h) * tree.R
            nb = list(map(sub, tree.sq[h], after[i:i + tree.R]))
        own = {"lender_scope": tree.ids[tree.parent[h]],
               "borrowed": {name: min(d, -nb[r]) for r, name, d in shape.asked if nb[r] < 0},
               "drs_after": drs_text(tree, h, nb), "leaf": q.leaf, "path": _path_names(tree)[path[0]],
               "per_node": per_node}
    if facts:
        return {**facts, **own}
    return own


class _DemandShape:
    """What the facts of every admission of one demand vector share within one tree."""

    def __init__(self, tree: Tree, vec: list[int]):
        res = tree.config.resources
        self.tree = tree
        self.asked = [(r, res[r], d) for r, d in enumerate(vec) if d > 0]
        self.names = tuple(name for _, name, _ in self.asked)
        self.amounts = tuple(d for _, _, d in self.asked)
        self.m = len(self.asked)
        self._static: dict[int, tuple] = {}
        self._along: dict[int, list] = {}
        self._pickers: dict[int, itemgetter] = {}

    def along(self, path: tuple[int, ...]) -> list[tuple[str, dict, dict | None]]:
        """Per node of ``path`` below the root: its id, owned quantities and finite borrow limits
        (None if it has none) of the asked resources — one list per leaf."""
        got = self._along.get(path[0])
        if got is None:
            got = self._along[path[0]] = [self._node(x) for x in path[:-1]]
        return got

    def _node(self, x: int) -> tuple[str, dict, dict | None]:
        got = self._static.get(x)  # shared by the leaves below x
        if got is None:
            own, bl = self.tree.owned[x], self.tree.bl[x]
            limits = {name: bl[r] for r, name, _ in self.asked if bl[r] < INF}
            got = self._static[x] = (self.tree.ids[x], {name: own[r] for r, name, _ in self.asked}, limits or None)
        return got

    def picker(self, nodes: int):
        """A C function taking, from the snapshot of ``nodes`` nodes, the asked resources of each
        node in order, as one tuple."""
        got = self._pickers.get(nodes)
        if got is None:
            where = [i * self.tree.R + r for i in range(nodes) for r, _, _ in self.asked]
            if len(where) == 1:
                only = where[0]
                got = self._pickers[nodes] = lambda snapshot: (snapshot[only],)
            else:
                got = self._pickers[nodes] = itemgetter(*where)
        return got


@per_tree
def _demand_shapes(tree: Tree) -> dict[tuple, _DemandShape]:
    return {}


@per_tree
def _path_names(tree: Tree) -> list[list[str]]:
    """Per node, the ids on its path (leaf first): shared by the facts of its admissions."""
    return [[tree.ids[x] for x in path] for path in tree.path]


# ---------------------------------------------------------------- X4 queries


_NOT_TOLD = frozenset({"reclaim_guard"})  # bookkeeping for the allocation to come (model.Allocation)


def why(state: State, request: str) -> dict:
    st = state.status.get(request)
    if st is None:
        return {"request": request, "state": "Unknown"}
    return {"request": request, "state": st.state, "reason": st.reason, "binding": binding_facts(st.binding),
            "victims": list(st.victims), **{k: v for k, v in st.detail if k not in _NOT_TOLD}}


def tenant_status(config: Config, state: State, node: str) -> dict:
    """Owned, used, borrowed, lent-out, reserved, entitlement and DRS of one node, plus pending by
    reason.  ``lent_out`` is what other tenants hold of the node's idle owned capacity, as
    ``who_is_borrowing_from`` attributes it (lending.py: their sums agree); ``entitlement`` its
    water-filling fair share of the demand (§10.8, ``subtree_demand``)."""
    tree = compile_tree(config, state.capacity)
    used = subtree_used(tree, state)
    fl = flow(tree, used)
    x = tree.index[node]
    res = tree.config.resources
    bal = [s - d for s, d in zip(fl.supply[x], fl.demand[x], strict=True)]  # B(x) of §10.4
    below = {i for i in range(len(tree.ids)) if x in tree.path[i]}
    reserved = [0] * tree.R
    pending: dict[str, int] = {}
    for rid, st in state.status.items():
        req = state.requests.get(rid)
        if req is None or tree.index.get(req.leaf) not in below:
            continue
        if st.state == "Reserved":
            for r, q in req.demand.items():
                reserved[tree.rindex[r]] += q
        if st.state in ("Pending", "Reserved"):
            pending[st.reason] = pending.get(st.reason, 0) + 1
    lent = [0] * tree.R
    for amounts in lent_to(tree, fl, x).values():
        lent = list(map(add, lent, amounts))
    return {
        "node": node,
        "owned": dict(zip(res, tree.owned[x], strict=True)),
        "used": dict(zip(res, used[x], strict=True)),
        "borrowed": {r: max(0, -b) for r, b in zip(res, bal, strict=True)},
        "lent_out": dict(zip(res, lent, strict=True)),
        "reserved": dict(zip(res, reserved, strict=True)),
        "entitlement": dict(zip(res, entitlement(tree, subtree_demand(tree, state))[x], strict=True)),
        "drs": str(drs(tree, x, bal)),
        "pending_by_reason": dict(sorted(pending.items())),
    }


def who_is_borrowing_from(config: Config, state: State, node: str) -> dict[str, dict[str, int]]:
    """Informational attribution of debt (the engine tracks no pairwise lending, like K): each
    borrowing leaf outside ``node`` with the part of its debt that ``node``'s idle owned capacity
    covers — debts are met level by level in proportion to the lenders' idle capacity, within
    their lend limits (lending.py).  Per resource the parts add up to ``lent_out``."""
    tree = compile_tree(config, state.capacity)
    res = tree.config.resources
    fl = flow(tree, subtree_used(tree, state))
    return {tree.ids[b]: {res[r]: q for r, q in enumerate(amounts) if q}
            for b, amounts in lent_to(tree, fl, tree.index[node]).items()}


def subtree_used(tree: Tree, state: State) -> list[list[int]]:
    """U(x) of §10.4 per node and resource: every allocation, Running and Terminating."""
    return _subtree_totals(tree, ((a.leaf, a.demand) for a in state.allocations.values()))


def subtree_demand(tree: Tree, state: State) -> list[list[int]]:
    """Per node and resource, the demand the entitlement (§10.8) shares out: what the subtree's
    requests hold (Running and Terminating allocations, as in U: a victim's request comes back
    once released) plus what its requests wait for (Pending and Reserved).  New requests (not yet
    validated) and Rejected ones (they never fit) want nothing the tree could give."""
    waiting = ((req.leaf, req.demand) for rid, st in state.status.items()
               if st.state in ("Pending", "Reserved") and rid not in state.allocations
               and (req := state.requests.get(rid)) is not None)
    return _subtree_totals(tree, chain(((a.leaf, a.demand) for a in state.allocations.values()), waiting))


def _subtree_totals(tree: Tree, charges: Iterable[tuple[str, dict[str, int]]]) -> list[list[int]]:
    """Per node and resource, the sum of the quantities charged at the leaves below it: summed
    per leaf first, then added up the tree once (a state holds far more requests than nodes)."""
    index, rindex = tree.index, tree.rindex
    rows = [[0] * tree.R for _ in tree.ids]
    for leaf, quantities in charges:
        x = index.get(leaf)
        if x is None:
            continue
        row = rows[x]
        for r, q in quantities.items():
            i = rindex.get(r)
            if i is not None:
                row[i] += q
    for x in bottom_up(tree):
        p = tree.parent[x]
        if p >= 0:
            rows[p] = list(map(add, rows[p], rows[x]))
    return rows
