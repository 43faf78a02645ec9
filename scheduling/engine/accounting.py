"""Rules F: accounting and feasibility.

Two implementations of the same predicate live here on purpose:

* ``Ledger`` is the fast, incremental one (F3), following Kueue's ``resource_node.go``.  Each node
  keeps ``usage`` (K sense: what its subtree draws from the node's ``SubtreeQuota``) and
  ``used`` (the true subtree total U(x)).  Usage bubbles to the parent only above the node's
  ``local`` (lend-limited, never lent) part.  The identity ``B(x) = SQ(x) − usage(x)`` links it to
  the definitional balance of §10.4, so a fit test only walks the leaf→root path: O(depth × R).
* ``naive_*`` recompute balances from scratch (F1).  They are slow and only serve property P2,
  which asserts that both always agree.

Feasibility checks only the nodes and resources a request changes: a state made infeasible by a
config change or a capacity drop (D2) must not block requests elsewhere, and a request may not
make a violated constraint worse.  From a feasible state this is exactly F2.
"""

from __future__ import annotations

from .tree import INF, Tree, per_tree

# failure kinds, mapped to reason codes by the allocator
MAX, BORROW, CAPACITY, LEND = "max", "borrow_limit", "capacity", "lend_limit"


class Ledger:
    """``usage`` and ``used`` per node.  In a plain tree nothing is kept local, so the two are
    equal for as long as every vector charged is non-negative: they then share one set of rows,
    and a charge updates one number per node and resource instead of two (B2).
    The first charge that would make them differ gives ``used`` its own rows (``_unshare``)."""

    __slots__ = ("tree", "usage", "used", "_held")

    def __init__(self, tree: Tree, usage=None, used=None):
        self.tree = tree
        self._held: dict[int, list[int]] | None = None  # lend_blocker's candidates, until the next change
        n, R = len(tree.ids), tree.R
        self.usage = usage if usage is not None else [[0] * R for _ in range(n)]
        if used is not None:
            self.used = used
        else:
            self.used = self.usage if tree.plain and usage is None else [[0] * R for _ in range(n)]

    def _unshare(self) -> None:
        if self.used is self.usage:
            self.used = [u[:] for u in self.usage]

    def clone(self) -> Ledger:
        # Copy-on-write snapshot for what-if planning (K resourceNode.Clone): O(nodes × R).
        usage = [u[:] for u in self.usage]
        return Ledger(self.tree, usage, usage if self.used is self.usage else [u[:] for u in self.used])

    def charge(self, path: tuple[int, ...], nz: list[tuple[int, int]]) -> None:
        """``add`` of a non-negative demand, given as its (resource, amount > 0) pairs, at the
        leaf whose path this is, in a plain tree (the admission of allocate's tournament).  A
        plain tree holds nothing back (``lend_blocker``), so there is no candidate list to drop."""
        usage = self.usage
        if self.used is usage:
            for x in path:
                row = usage[x]
                for r, d in nz:
                    row[r] += d
            return
        used = self.used
        for x in path:
            u1, u2 = used[x], usage[x]
            for r, d in nz:
                u1[r] += d
                u2[r] += d

    def add(self, leaf: int, vec: list[int]) -> None:
        t = self.tree
        if t.plain and min(vec, default=0) >= 0:
            # Nothing is held back locally: the whole demand reaches every path node.
            self.charge(t.path[leaf], [(r, d) for r, d in enumerate(vec) if d])
            return
        self._unshare()
        self._held = None
        for r, d in enumerate(vec):
            if not d:
                continue
            delta = d
            for x in t.path[leaf]:
                self.used[x][r] += d
                if delta > 0:
                    u = self.usage[x]
                    la = t.local[x][r] - u[r]
                    u[r] += delta
                    delta = delta - la if la > 0 else delta

    def add_both(self, other: Ledger, leaf: int, vec: list[int]) -> None:
        """``self.add(leaf, vec); other.add(leaf, vec)`` in one walk of the path where possible
        (an admission charges both ledgers).  The planning view may still be this very ledger
        (PassCtx.fork_planning_view): then it is charged once."""
        self.add(leaf, vec)
        if other is not self:
            other.add(leaf, vec)

    def remove(self, leaf: int, vec: list[int]) -> None:
        t = self.tree
        if self.used is self.usage:
            # Shared rows stay equal when every path node holds at least what is removed; the
            # leaf holds the least of them (usage only grows towards the root in a plain tree).
            row = self.usage[leaf]
            if all(0 <= d <= row[r] for r, d in enumerate(vec)):
                nz = [(r, d) for r, d in enumerate(vec) if d]
                usage = self.usage
                for x in t.path[leaf]:
                    u = usage[x]
                    for r, d in nz:
                        u[r] -= d
                return
            self._unshare()
        self._held = None
        for r, d in enumerate(vec):
            if not d:
                continue
            delta = d
            for x in t.path[leaf]:
                self.used[x][r] -= d
                if delta > 0:
                    u = self.usage[x]
                    stored_in_parent = u[r] - t.local[x][r]
                    u[r] -= delta
                    delta = min(delta, stored_in_parent) if stored_in_parent > 0 else 0

    def balance(self, x: int, r: int) -> int:
        return self.tree.sq[x][r] - self.usage[x][r]

    def fit(self, leaf: int, vec: list[int]) -> tuple[int, int, str] | None:
        """None if adding ``vec`` at ``leaf`` keeps every changed constraint satisfied, else the
        binding constraint (node, resource, kind) for A7: the first failing node walking leaf →
        root — except that when the root is out of capacity too, the root is reported, because
        raising a tenant's borrow limit or max would not help (T14: PENDING_NO_CAPACITY)."""
        t = self.tree
        res = [r for r, d in enumerate(vec) if d > 0]
        root = t.root
        first = None
        if t.plain:
            return self._fit_plain(leaf, vec, res)
        delta = {r: vec[r] for r in res}
        for x in t.path[leaf]:
            ux, lx, sqx, used, capx = self.usage[x], t.local[x], t.sq[x], self.used[x], t.cap[x]
            for r in res:
                if first is None and used[r] + vec[r] > capx[r]:
                    first = (x, r, MAX)
                d = delta[r]
                if d <= 0:
                    continue
                nb = sqx[r] - ux[r] - d
                if x == root:
                    if nb < 0:
                        return (x, r, self._lend_or_capacity(x, r, leaf))
                elif first is None and nb < -t.bl[x][r]:
                    first = (x, r, BORROW)
                la = lx[r] - ux[r]
                if la > 0:
                    delta[r] = d - la
        return first

    def root_refusal(self, vec: list[int]) -> tuple[int, int, str] | None:
        """In a plain tree: what ``fit`` answers at any leaf when the root lacks capacity, else
        None (``_fit_plain`` asks the root first, and the root's refusal takes precedence)."""
        t = self.tree
        root = t.root
        ur, sqr = self.usage[root], t.sq[root]
        for r, d in enumerate(vec):
            if d > 0 and sqr[r] - ur[r] - d < 0:
                return (root, r, self._lend_or_capacity(root, r))
        return None

    def _fit_plain(self, leaf: int, vec: list[int], res: list[int]) -> tuple[int, int, str] | None:
        """``fit`` for a tree without lend limits: the same checks with the full demand at every
        node (each ``delta`` of the general walk stays equal to the demand)."""
        t = self.tree
        root = t.root
        usage, used_, sq, cap, bl = self.usage, self.used, t.sq, t.cap, t.bl
        # The root out of capacity is the answer whatever fails below it, so it is asked first:
        # on a full cluster (most verdicts of benchmark L) the walk then stops at once.
        ur, sqr = usage[root], sq[root]
        for r in res:
            if sqr[r] - ur[r] - vec[r] < 0:
                return (root, r, self._lend_or_capacity(root, r, leaf))
        first = None
        for x in t.path[leaf]:
            ux, sqx, used, capx = usage[x], sq[x], used_[x], cap[x]
            if x == root:
                for r in res:
                    d = vec[r]
                    if first is None and used[r] + d > capx[r]:
                        first = (x, r, MAX)
                    if sqx[r] - ux[r] - d < 0:
                        return (x, r, self._lend_or_capacity(x, r, leaf))
                return first
            if first is not None:
                continue
            blx = bl[x]
            for r in res:
                d = vec[r]
                if used[r] + d > capx[r]:
                    first = (x, r, MAX)
                    break
                if sqx[r] - ux[r] - d < -blx[r]:
                    first = (x, r, BORROW)
                    break
        return first

    def _lend_or_capacity(self, x: int, r: int, leaf: int | None = None) -> str:
        # PENDING_LEND_LIMIT when a surplus below x exists but may not be lent (B(c) > LL(c)).
        return LEND if self.lend_blocker(x, r, leaf) is not None else CAPACITY

    def lend_blocker(self, x: int, r: int, leaf: int | None = None) -> int | None:
        """A node below ``x`` whose lend limit holds idle ``r`` back from the rest of the tree
        (B(c) > LL(c)), the shallowest first, then in id order (N2); None if there is none.

        At any depth, not only among x's children: a team deep in the tree that may not lend
        keeps its idle share from everyone outside it, and a pod refused for capacity is told so
        instead of reading "0 free" beside capacity it can see idle.  Not a node on the path of
        the refused request at ``leaf`` (its own subtree's surplus already went to it), nor one
        whose surplus could not reach the request's branch anyway: an ancestor on the way that
        lends all it may (B(a) ≥ LL(a)) would hold it back in turn, and that one's limit binds."""
        t = self.tree
        if t.plain:  # every lend limit is ≥ its node's SQ ≥ B(c): none can hold a surplus back
            return None
        sq, usage, ll = t.sq, self.usage, t.ll
        held = self._held
        if held is None:
            held = self._held = {}
        holding = held.get(r)
        if holding is None:  # once per change of the ledger: refused fits come many to a change
            holding = held[r] = [c for c in _lend_limited(t)[r] if sq[c][r] - usage[c][r] > ll[c][r]]
        on_path = t.path[leaf] if leaf is not None else ()
        for c in holding:
            if c in on_path or c == x or x not in t.path[c]:
                continue
            for a in t.path[c][1:]:
                if a == x or a in on_path:  # up to where it meets the request's branch
                    return c
                lim = ll[a][r]
                if lim is not None and sq[a][r] - usage[a][r] >= lim:
                    break
        return None

    def probe(self, leaf: int, vec: list[int]) -> list[list[int]]:
        """Balances B(x) of every path node after adding ``vec`` (leaf first)."""
        t = self.tree
        delta = vec[:]
        out = []
        for x in t.path[leaf]:
            ux, lx, sqx = self.usage[x], t.local[x], t.sq[x]
            nb = [sqx[r] - ux[r] for r in range(t.R)]
            for r in range(t.R):
                d = delta[r]
                if d > 0:
                    nb[r] -= d
                    la = lx[r] - ux[r]
                    if la > 0:
                        delta[r] = d - la
            out.append(nb)
        return out

    def borrowing_top(self, leaf: int, vec: list[int], need: list[int]) -> tuple[int, list[int]] | None:
        """The highest non-root path node that would borrow one of the ``need`` resources after
        adding ``vec``, as (its index on the path, its balances after), or None: what ``probe``
        is read for on the admit path, without building the whole probe of a plain tree."""
        t = self.tree
        path = t.path[leaf]
        if not t.plain:
            probe = self.probe(leaf, vec)
            for i in range(len(path) - 2, -1, -1):  # the root (last) never borrows
                nb = probe[i]
                if any(nb[r] < 0 for r in need):
                    return i, nb
            return None
        usage, sq = self.usage, t.sq
        for i in range(len(path) - 2, -1, -1):
            x = path[i]
            ux, sqx = usage[x], sq[x]
            for r in need:
                if sqx[r] - ux[r] - vec[r] < 0:
                    return i, [s - u - (d if d > 0 else 0) for s, u, d in zip(sqx, ux, vec, strict=True)]
        return None

    def balance_after(self, leaf: int, vec: list[int], stop: int) -> list[int]:
        """B(stop) after adding ``vec`` at ``leaf`` (``stop`` on the path): ``probe`` cut short,
        for tournament keys that only look at one level."""
        t = self.tree
        if t.plain:
            ux, sqx = self.usage[stop], t.sq[stop]
            return [s - u - (d if d > 0 else 0) for s, u, d in zip(sqx, ux, vec, strict=True)]
        delta = vec[:]
        R = range(t.R)
        for x in t.path[leaf]:
            ux, sqx = self.usage[x], t.sq[x]
            if x == stop:
                return [sqx[r] - ux[r] - (delta[r] if delta[r] > 0 else 0) for r in R]
            lx = t.local[x]
            for r in R:
                d = delta[r]
                if d > 0:
                    la = lx[r] - ux[r]
                    if la > 0:
                        delta[r] = d - la
        raise ValueError("stop is not on the path")

    def available(self, leaf: int, r: int) -> int:
        """K ``available``: the most ``r`` a request at ``leaf`` could get now (incl. max)."""
        t = self.tree
        avail = None
        capped = INF
        for x in reversed(t.path[leaf]):  # root first
            u = self.usage[x][r]
            if x == t.root:
                avail = t.sq[x][r] - u
            else:
                loc = t.local[x][r]
                la = max(0, loc - u)
                pa = avail
                if t.bl[x][r] < INF:
                    pa = min(pa, t.sq[x][r] - loc - max(0, u - loc) + t.bl[x][r])
                avail = la + pa
            # max caps the true subtree total, local (never lent) usage included, so it is applied
            # after the balance recursion rather than inside it (K has no max).
            if t.cap[x][r] < INF:
                capped = min(capped, t.cap[x][r] - self.used[x][r])
        return max(0, min(avail, capped))


# ---------------------------------------------------------------- definitional checker (P2)


def naive_balances(tree: Tree, leaf_usage: dict[int, list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    """B(x, r) and U(x, r) straight from §10.4, recomputed from scratch."""
    n, R = len(tree.ids), tree.R
    U = [[0] * R for _ in range(n)]
    for leaf, vec in leaf_usage.items():
        for x in tree.path[leaf]:
            for r in range(R):
                U[x][r] += vec[r]
    B = [[0] * R for _ in range(n)]
    for x in sorted(range(n), key=lambda i: -tree.depth[i]):
        for r in range(R):
            if tree.is_leaf[x]:
                B[x][r] = tree.owned[x][r] - U[x][r]
            else:
                pool = tree.owned[x][r] - sum(tree.owned[c][r] for c in tree.children[x])
                total = pool
                for c in tree.children[x]:
                    lim = tree.ll[c][r]
                    total += B[c][r] if lim is None else min(B[c][r], lim)
                B[x][r] = total
    return B, U


def naive_feasible(tree: Tree, leaf_usage: dict[int, list[int]]) -> bool:
    B, U = naive_balances(tree, leaf_usage)
    for x in range(len(tree.ids)):
        for r in range(tree.R):
            if U[x][r] > tree.cap[x][r]:
                return False
            if x == tree.root:
                if B[x][r] < 0:
                    return False
            elif B[x][r] < -tree.bl[x][r]:
                return False
    return True


def naive_fits(tree: Tree, leaf_usage: dict[int, list[int]], leaf: int, vec: list[int]) -> bool:
    after = {k: v[:] for k, v in leaf_usage.items()}
    cur = after.setdefault(leaf, [0] * tree.R)
    for r in range(tree.R):
        cur[r] += vec[r]
    return naive_feasible(tree, after)


def probe_remove(ledger: Ledger, leaf: int, vec: list[int], stop: int) -> list[int]:
    """Balance of ``stop`` (an ancestor-or-self of ``leaf``) after removing ``vec`` at ``leaf``,
    without touching the ledger.  Used for the victim side of S2-a: DRS(a_v − v)."""
    t = ledger.tree
    delta = vec[:]
    for x in t.path[leaf]:
        u = ledger.usage[x]
        if x == stop:
            return [t.sq[x][r] - (u[r] - max(delta[r], 0)) for r in range(t.R)]
        for r in range(t.R):
            d = delta[r]
            if d > 0:
                stored = u[r] - t.local[x][r]
                delta[r] = min(d, stored) if stored > 0 else 0
    raise ValueError("stop is not on the path")


@per_tree
def _lend_limited(tree: Tree) -> list[list[int]]:
    """Per resource, the non-root nodes with a lend limit on it, shallowest first, then in id order
    (node indexes follow it, N2)."""
    top_down = sorted((x for x in range(len(tree.ids)) if x != tree.root), key=lambda x: (tree.depth[x], x))
    return [[x for x in top_down if tree.ll[x][r] is not None] for r in range(tree.R)]
