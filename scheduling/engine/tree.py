"""Compiled, index-based view of one config version at one measured capacity.

The engine works on small integer indexes (nodes 0..n-1, resources 0..R-1) instead of string
keys so that the fit test stays O(depth × R) with cheap list access (F3, benchmark B1).  A
``Tree`` is derived data only: it is cached per (config identity, capacity) and never mutated.

``INF`` stands for "no limit".  It is a plain large int so that every comparison stays integral.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TypeVar

from .degraded import scale_owned
from .model import Config, Node, id_key

T = TypeVar("T")

INF = 1 << 62


@dataclass(eq=False)
class Tree:
    config: Config
    ids: list[str]
    index: dict[str, int]
    nodes: list[Node]
    parent: list[int]  # -1 for the root
    children: list[list[int]]  # ordered by id (N2)
    path: list[tuple[int, ...]]  # node → root, node included
    depth: list[int]
    is_leaf: list[bool]
    R: int
    rindex: dict[str, int]
    owned: list[list[int]]  # effective (D1)
    bl: list[list[int]]  # borrow limit, INF if unlimited; root 0
    ll: list[list[int | None]]  # lend limit or None
    cap: list[list[int]]  # max, INF if unset
    sq: list[list[int]]  # K SubtreeQuota
    local: list[list[int]]  # K guaranteedQuota: max(0, SQ − LL), 0 if LL unset
    potential: list[list[int]]  # K potentialAvailable (usage ignored), incl. max
    lendable: list[list[int]]  # L(p, r) for DRS of p's children
    fence_of: list[int]  # nearest fenced node on the path (self included), -1 if none
    min_runtime: list[int]  # inherited min_runtime_fairshare
    lendout_grace: list[int]  # min lendout_grace over the subtree, INF if none
    degraded: bool
    root: int
    # No node keeps a never-lent local part (no lend limits in force): usage then bubbles to the
    # root unchanged, which lets the ledger and tournament keys skip the per-node bookkeeping.
    plain: bool = False
    # open_below[x][r]: nothing on x's path below the root limits r (no borrow limit, max or
    # local part), so what x could get of r is what the root has left (Ledger.available).
    open_below: list[list[bool]] = field(default_factory=list)

    def lca(self, a: int, b: int) -> int:
        da, db = self.depth[a], self.depth[b]
        while da > db:
            a, da = self.parent[a], da - 1
        while db > da:
            b, db = self.parent[b], db - 1
        while a != b:
            a, b = self.parent[a], self.parent[b]
        return a

    def child_towards(self, ancestor: int, node: int) -> int:
        """The child of ``ancestor`` on the path to ``node`` (``node`` strictly below it)."""
        for x in self.path[node]:
            if self.parent[x] == ancestor:
                return x
        raise ValueError("not below")

    def vec(self, quantities: dict[str, int]) -> list[int]:
        v = [0] * self.R
        for r, q in quantities.items():
            v[self.rindex[r]] = q
        return v


def per_tree(build: Callable[[Tree], T]) -> Callable[[Tree], T]:
    """``build(tree)`` computed once per compiled tree and kept with it: trees never change after
    compilation, and a pass should not pay again for tables derived from one (B2)."""
    built: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @wraps(build)
    def of(tree: Tree) -> T:
        got = built.get(tree)
        if got is None:
            got = built[tree] = build(tree)
        return got

    return of


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compile_tree(config: Config, capacity: dict[str, int] | None = None) -> Tree:
    cap_key = tuple(sorted((capacity or config.capacity).items()))
    per_config = _CACHE.setdefault(config, {})
    tree = per_config.get(cap_key)
    if tree is None:
        tree = _build(config, dict(cap_key))
        per_config[cap_key] = tree
    return tree


def _build(config: Config, capacity: dict[str, int]) -> Tree:
    nodes = sorted(config.nodes, key=lambda n: id_key(n.id))
    ids = [n.id for n in nodes]
    index = {x: i for i, x in enumerate(ids)}
    parent = [index[n.parent] if n.parent is not None else -1 for n in nodes]
    n = len(nodes)
    children: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parent):
        if p >= 0:
            children[p].append(i)
    root = parent.index(-1)
    path: list[tuple[int, ...]] = [()] * n
    depth = [0] * n
    order = [root]  # top-down order
    for x in order:
        order.extend(children[x])
    for x in order:
        path[x] = (x,) + (path[parent[x]] if parent[x] >= 0 else ())
        depth[x] = depth[parent[x]] + 1 if parent[x] >= 0 else 0
    res = list(config.resources)
    R = len(res)
    rindex = {r: i for i, r in enumerate(res)}
    degraded = False
    owned = [[0] * R for _ in range(n)]
    kids_by_id = {ids[i]: [ids[c] for c in children[i]] for i in range(n)}
    for ri, r in enumerate(res):
        nominal = {ids[i]: nodes[i].owned.get(r, 0) for i in range(n)}
        nominal[ids[root]] = nodes[root].owned.get(r, config.capacity.get(r, 0))
        measured = capacity.get(r, config.capacity.get(r, 0))
        if measured < nominal[ids[root]]:
            degraded = True
        eff = scale_owned(ids[root], kids_by_id, nominal, measured)
        for i in range(n):
            owned[i][ri] = eff[ids[i]]
    bl = [[INF] * R for _ in range(n)]
    ll: list[list[int | None]] = [[None] * R for _ in range(n)]
    cap = [[INF] * R for _ in range(n)]
    for i, nd in enumerate(nodes):
        for ri, r in enumerate(res):
            b = nd.borrow_limit.get(r)
            bl[i][ri] = 0 if i == root else (INF if b is None else b)
            lim = nd.lend_limit.get(r)
            # A lend limit can never exceed the (possibly degraded) guarantee it limits.
            ll[i][ri] = None if lim is None else min(lim, owned[i][ri])
            m = nd.max.get(r)
            cap[i][ri] = INF if m is None else m
    sq = [[0] * R for _ in range(n)]
    local = [[0] * R for _ in range(n)]
    for x in reversed(order):  # bottom-up
        for ri in range(R):
            nominal = owned[x][ri] - sum(owned[c][ri] for c in children[x])
            sq[x][ri] = nominal + sum(sq[c][ri] - local[c][ri] for c in children[x])
            lim = ll[x][ri]
            local[x][ri] = max(0, sq[x][ri] - lim) if lim is not None and x != root else 0
    potential = [[0] * R for _ in range(n)]
    for x in order:  # top-down
        for ri in range(R):
            if x == root:
                pa = sq[x][ri]
            else:
                pa = local[x][ri] + potential[parent[x]][ri]
                if bl[x][ri] < INF:
                    pa = min(pa, sq[x][ri] + bl[x][ri])
            potential[x][ri] = min(pa, cap[x][ri])
    fence_of = [-1] * n
    min_runtime = [0] * n
    for x in order:
        p = parent[x]
        fence_of[x] = x if nodes[x].fence else (fence_of[p] if p >= 0 else -1)
        mr = nodes[x].min_runtime_fairshare
        min_runtime[x] = mr if mr is not None else (min_runtime[p] if p >= 0 else 0)
    grace = [INF] * n
    for x in reversed(order):
        g = nodes[x].lendout_grace
        grace[x] = min([INF if g is None else g] + [grace[c] for c in children[x]])
    open_below = [[True] * R for _ in range(n)]
    for x in order:  # top-down: a node's path is its parent's plus itself
        p = parent[x]
        if p < 0:
            continue
        row, up = open_below[x], open_below[p]
        for ri in range(R):
            row[ri] = up[ri] and bl[x][ri] == INF and cap[x][ri] == INF and local[x][ri] == 0
    return Tree(
        config=config, ids=ids, index=index, nodes=nodes, parent=parent, children=children, path=path,
        depth=depth, is_leaf=[not c for c in children], R=R, rindex=rindex, owned=owned, bl=bl, ll=ll,
        cap=cap, sq=sq, local=local, potential=potential, lendable=potential, fence_of=fence_of,
        min_runtime=min_runtime, lendout_grace=grace, degraded=degraded, root=root,
        plain=not any(any(row) for row in local), open_below=open_below,
    )
