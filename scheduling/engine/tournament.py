"""Rules A2, A3, A8, A9: the tournament that picks the next request to judge, and the dry sweep
that tells when the rest of a pass can no longer progress.

Selection runs from the root down (A3) with cached per-node winners: an admission at a leaf only
changes balances on that leaf's path, and a child's tournament key depends only on its own
subtree, so only the touched paths are re-keyed.  A node's election is a min over its children's
keys, gathered and compared in C.

Keys take one of two forms, never mixed within a tree:

* Any tree: tuples (within owned at this level, −tier, DRS after admission, request order) from
  ``_level_key``, which walks the path with the general ledger (lend limits included).
* A plain tree (no lend limits): one integer per key (``_PlainKeys``).  Without lend limits
  B(c) after admission is SQ − usage − demand, so the key of a child depends only on the child,
  the demand and the child's usage; and the DRS of siblings can be put on one integer scale, so
  the whole tuple packs into bit fields of one exact integer whose order is the tuple's.  Plain
  trees are the common case and this is the hottest code of a pass (benchmark B2).
"""

from __future__ import annotations

import math
from operator import attrgetter, itemgetter

from .evaluate import _evaluate, _pending, record_admission
from .explain import Reason
from .fairshare import RATIO_INF, drs_key
from .passctx import PassCtx, WouldProgress
from .tree import Tree, per_tree


def tournament(ctx: PassCtx) -> bool:
    """One tournament over the Pending requests; True if anything was admitted or reserved.

    While it runs, requests are named by their rank in head order (A2: priority, creation, id):
    ``waiting[rank]`` is the request, ``where[rank]`` its leaf, and each leaf's queue lists its
    ranks in order.  A plain tree's keys end with the rank, so they order exactly as A3's tuples
    ending with the request's order do."""
    tree = ctx.tree
    reqs, status = ctx.requests, ctx.status
    n = len(tree.ids)
    index, is_leaf, root, parent, paths = tree.index, tree.is_leaf, tree.root, tree.parent, tree.path
    plain = tree.plain
    waiting = [reqs[rid] for rid, st in status.items() if st.state == "Pending"]
    waiting.sort(key=_HEAD_ORDER)
    where = [index[q.leaf] for q in waiting]
    # A plain tree's keys need each nominee's vector: looked up once per pass by rank, not on every
    # re-keying (B2).  Requests accepted in this pass have theirs already (allocate.accept_new).
    vecs = ctx.vecs
    vec_at = [vecs.get(q.id) or ctx.vec(q.id) for q in waiting] if plain else None
    queues: list[list[int] | None] = [None] * n
    for rank, leaf in enumerate(where):
        qq = queues[leaf]
        if qq is None:
            queues[leaf] = [rank]
        else:
            qq.append(rank)
    pos = [0] * n
    blocked: dict[int, int] = {}  # StrictFIFO leaf → the rank of its pending head
    electors = _electors(tree)
    pk = _plain_keys(tree) if plain else None
    none = pk.none if plain else _NONE  # the key of a node without a nominee: after every real key
    nominee: list[int | None] = [None] * n
    nvec: list = [None] * n  # the nominee's demand vector (plain trees)
    key: list = [none] * n
    cache = ctx.key_cache  # plain key prefixes by (node, vector), valid at ctx.key_version
    usage = ctx.sim.usage  # the planning view's rows: ctx.fork_planning_view keeps them live

    def plain_key(x: int, vec, rank: int) -> int:
        if ctx.key_version != ctx.version:
            cache.clear()
            ctx.key_version = ctx.version
        ck = (x, id(vec))  # vectors are interned per shape (PassCtx.vec)
        pre = cache.get(ck)
        if pre is None:
            pre = cache[ck] = pk.prefix(x, vec, usage[x])
        return pre + rank

    def compute(x: int, *, unless_same: bool = False) -> bool:
        """Re-elect x's nominee and re-key it; False (and nothing done) if ``unless_same`` and
        the nominee did not change — with unchanged balances its key cannot have changed.
        ``key[c]`` is ``none`` exactly when ``nominee[c]`` is None."""
        if is_leaf[x]:
            qq = queues[x]
            nom = qq[pos[x]] if qq is not None and pos[x] < len(qq) and x not in blocked else None
            if nom is not None and plain:
                vec = vec_at[nom]
        else:
            gather, kids = electors[x]
            ks = gather(key)
            bk = min(ks)
            if bk is none:
                nom = None
            else:
                c = kids[ks.index(bk)]
                nom, vec = nominee[c], nvec[c]
        if unless_same and nom == nominee[x]:
            return False
        nominee[x] = nom
        if nom is None:
            key[x] = none
        elif plain:
            nvec[x] = vec
            if x != root:
                key[x] = plain_key(x, vec, nom)
        elif x != root:
            key[x] = _level_key(ctx, x, waiting[nom].id)
        return True

    def advance(leaf: int) -> None:
        # No balance changed, only the leaf's nominee: walking up stops at the first node whose
        # nominee is unchanged, since a node's key depends only on its nominee and balances.
        x = leaf
        while x >= 0 and compute(x, unless_same=True):
            x = parent[x]

    admit_head = _plain_admission(ctx, pk, key, paths) if plain else None

    def rekey_path(leaf: int) -> None:
        """``compute`` for every node on the path of a plain tree's admission, inlined: each of
        them has new balances, so none can keep its key and none is skipped (B2)."""
        cache.clear()  # the cached prefixes of these nodes are stale; others are rebuilt on demand
        ctx.key_version = ctx.version
        prefix = pk.prefix
        qq = queues[leaf]
        p = pos[leaf]
        if p < len(qq) and leaf not in blocked:
            nom = nominee[leaf] = qq[p]
            vec = nvec[leaf] = vec_at[nom]
            key[leaf] = prefix(leaf, vec, usage[leaf]) + nom
        else:
            nominee[leaf] = None
            key[leaf] = none
        x = parent[leaf]
        while x >= 0:
            gather, kids = electors[x]
            ks = gather(key)
            bk = min(ks)
            if bk is none:
                nominee[x] = None
                key[x] = none
            else:
                c = kids[ks.index(bk)]
                nom = nominee[x] = nominee[c]
                vec = nvec[x] = nvec[c]
                if x != root:
                    key[x] = prefix(x, vec, usage[x]) + nom
            x = parent[x]

    for x in sorted(range(n), key=lambda i: -tree.depth[i]):
        compute(x)
    # The tail of a pass on a filling cluster is a long run of Pending verdicts.  Pending verdicts
    # change nothing, so once no request left would progress on the current ledgers, the rest
    # of the tournament would only judge each of them Pending in its order — the verdicts a dry
    # sweep gives in any order (StrictFIFO queues in theirs), and PENDING decisions are emitted
    # in id order anyway.  After a run of ``_TAIL_RUN`` Pending verdicts a dry sweep checks
    # this; when something could still progress the tournament goes on and the next check waits
    # twice as long, so failed checks cost O(P log P) at worst (B2: most of scale XL's tail).
    progressed = False
    run, check_after = 0, _TAIL_RUN
    while (head := nominee[root]) is not None:
        q = waiting[head]
        leaf = where[head]
        if plain and admit_head(q, leaf, nvec[root]):
            progressed = True
            run = 0
            pos[leaf] += 1
            rekey_path(leaf)
            continue
        rid = q.id
        touched = _evaluate(ctx, rid, leaf)
        pos[leaf] += 1
        if status[rid].state == "Pending" and tree.nodes[leaf].queueing == "StrictFIFO":
            blocked[leaf] = head
        if touched:
            progressed = True
            run = 0
            for t in sorted(touched | {leaf}):
                for x in paths[t]:
                    compute(x)
            continue
        run += 1
        if run >= check_after:
            if not would_progress(ctx):
                ctx.settled = ctx.version
                break
            run, check_after = 0, check_after * 2
        advance(leaf)
    for leaf, by in sorted(blocked.items()):
        for rank in queues[leaf][pos[leaf]:]:
            block(ctx, waiting[rank].id, waiting[by].id)
    return progressed


_HEAD_ORDER = attrgetter("head_order")
_NONE = (2,)  # the tuple key of a child without a nominee: after every real key (within is 0 or 1)
_TAIL_RUN = 64  # Pending verdicts in a row before the tournament checks for its tail
_RANK_BITS = 48  # a plain key's lowest bits: the request's rank in head order


def _plain_admission(ctx: PassCtx, pk: _PlainKeys, key: list, paths: list):
    """``admit_head(q, leaf, vec)``: the common verdict of a plain tree, decided in one walk —
    ``q`` fits in both ledgers and needs no special treatment, so it is admitted (True).  False,
    with nothing changed, whenever ``evaluate._judge`` has anything more to say (no fit, gates,
    a reservation in the planning view, a borrowing request that is non-preemptible, exceeds a
    lender's grace or prefers preemption): the tournament then runs ``_evaluate``, which decides
    exactly as before.  Same checks as ``Ledger._fit_plain`` + ``borrowing_top``.

    In an open tree (no borrow limit or max below the root) only the root can refuse, and which
    path nodes borrow after admission is already written in their keys: the within-owned bit of
    each path node's key was computed for this very request, on the current balances."""
    tree, sim = ctx.tree, ctx.sim
    # ``sim.used`` is read at each call: it gets rows of its own if it ever stops being shared
    # with ``usage`` (accounting.Ledger); ``usage`` and the ledger itself stay the same objects.
    usage, sq, cap, bl = sim.usage, tree.sq, tree.cap, tree.bl
    root, nonzero, judged = tree.root, ctx.nonzero, ctx.judged
    sq_root, cap_root, grace, parent = sq[root], cap[root], tree.lendout_grace, tree.parent
    open_tree = pk.open_tree
    within_bit = pk.within_bit
    prefers_preemption = ctx.settings.borrowing_preference == "PreemptOverBorrow"

    def admit_head(q, leaf: int, vec) -> bool:
        if q.gates or not ctx.sim_is_actual or ctx.excluded or judged.get(q.id) == ctx.version:
            return False
        nz = nonzero.get(id(vec))
        if nz is None:
            nz = nonzero[id(vec)] = [(r, d) for r, d in enumerate(vec) if d > 0]
        # The root first: on a filling cluster its capacity is what fails.
        used_ = sim.used
        ur, used = usage[root], used_[root]
        for r, d in nz:
            if used[r] + d > cap_root[r] or sq_root[r] - ur[r] - d < 0:
                return False
        path = paths[leaf]
        top = -1  # index on the path of the highest node that borrows after admission
        if open_tree:
            for i in range(len(path) - 2, -1, -1):
                x = path[i]
                if key[x] & within_bit[x]:
                    top = i
                    break
        else:
            for i in range(len(path) - 1):  # the leaf and its ancestors below the root
                x = path[i]
                ux, sqx, used, capx, blx = usage[x], sq[x], used_[x], cap[x], bl[x]
                for r, d in nz:
                    if used[r] + d > capx[r]:
                        return False
                    b = sqx[r] - ux[r] - d
                    if b < 0:
                        if b < -blx[r]:
                            return False
                        top = i
        if top < 0:
            borrowing = None
        else:
            h = path[top]
            if not q.preemptible or q.reclaim_grace > grace[parent[h]] or (
                    prefers_preemption and tree.nodes[leaf].within_policy != "Never"):
                return False
            borrowing = (h, None)  # its balances after admission are read off the usage snapshot
        if ctx.dry:
            raise WouldProgress
        sim.charge(path, nz)
        if ctx.actual is not sim:
            ctx.actual.charge(path, nz)
        record_admission(ctx, q, leaf, vec, _ADMITTED_BORROWING if borrowing else _ADMITTED_WITHIN_OWNED,
                         _NO_FACTS, borrowing)
        return True

    return admit_head


_ADMITTED_WITHIN_OWNED, _ADMITTED_BORROWING = str(Reason.ADMITTED_WITHIN_OWNED), str(Reason.ADMITTED_BORROWING)
_NO_FACTS: dict = {}  # read only


class _PlainKeys:
    """Integer tournament keys of a plain tree, once per compiled tree.

    The key of child c of p is (within, −tier, DRS, rank) packed into one integer, high fields
    first: ``within_bit[c]`` for within, then the tier, then the DRS, then _RANK_BITS of rank.

    DRS(c) = max over borrowed r of (−B(c, r) / L(p, r)) / w(c).  Siblings are compared at one
    scale S(p) = lcm of p's lendable amounts × lcm of the weight numerators of p's children, so
    S(p) × DRS(c) = max of −B(c, r) × S(p) / (L(p, r) × num(w)) × den(w) — an exact integer,
    and integers order exactly as the rationals do.  The DRS is infinite where nothing is
    lendable or the weight is 0: ``RATIO_INF`` at that scale.  Its field has 64 spare bits, so a
    finite DRS above ``RATIO_INF`` (a deficit beyond 2^62 units) still orders above it, as the
    exact ratios do."""

    def __init__(self, tree: Tree):
        n = len(tree.ids)
        # per node: (SQ, per-resource DRS factors already shifted past the rank, tier field, within
        # bit, the infinite DRS field); None for the root, which has no key
        self.consts: list = [None] * n
        self.within_bit = [0] * n
        widest = 0
        for p, kids in enumerate(tree.children):
            if not kids:
                continue
            lendable = tree.lendable[p]
            scale = math.lcm(*(v for v in lendable if v > 0), 1) * math.lcm(
                *(tree.nodes[c].weight.numerator for c in kids if tree.nodes[c].weight.numerator), 1)
            infinite = RATIO_INF.n * scale
            drs_bits = infinite.bit_length() + 64
            tiers = [tree.nodes[c].share_tier for c in kids]
            tier_bits = (max(tiers) - min(tiers)).bit_length()
            within = 1 << (tier_bits + drs_bits + _RANK_BITS)
            widest = max(widest, within.bit_length())
            for c in kids:
                w = tree.nodes[c].weight
                factors = tuple(None if v <= 0 or not w.numerator
                                else (scale // (v * w.numerator) * w.denominator) << _RANK_BITS for v in lendable)
                tier = (max(tiers) - tree.nodes[c].share_tier) << (drs_bits + _RANK_BITS)
                self.consts[c] = (tree.sq[c], factors, tier, within, infinite << _RANK_BITS)
                self.within_bit[c] = within
        self.none = 1 << (widest + 1)
        self.resources = range(tree.R)
        self.open_tree = all(all(row) for row in tree.open_below)

    def prefix(self, c: int, vec, usage_c: list[int]) -> int:
        """The key of child ``c`` for a request of demand ``vec``, without its rank."""
        sq, factors, tier, within_bit, infinite = self.consts[c]
        within = 0
        top = 0
        inf = False
        # Indexing, not zip(…, strict=True): the strict zip costs more than the loop body (B2).
        for r in self.resources:
            d = vec[r]
            b = sq[r] - usage_c[r] - d  # demands of accepted requests are never negative (accept_new)
            if b < 0:
                if d:
                    within = within_bit
                f = factors[r]
                if f is None:
                    inf = True
                elif -b * f > top:
                    top = -b * f
        return tier + within + (infinite if inf else top)


_plain_keys = per_tree(_PlainKeys)


@per_tree
def _electors(tree: Tree) -> list:
    """Per inner node: (a C function gathering its children's keys as a tuple, the children in
    the same order)."""
    out = []
    for kids in tree.children:
        kids = tuple(kids)
        if len(kids) > 1:
            out.append((itemgetter(*kids), kids))
        elif kids:
            out.append((itemgetter(slice(kids[0], kids[0] + 1)), kids))
        else:
            out.append((None, kids))
    return out


def _level_key(ctx: PassCtx, c: int, rid: str) -> tuple:
    """Tuple key of child ``c`` whose nominee is ``rid`` (A3 items 2–7): within owned at this
    level, tier, DRS after admission (``drs_key``), then the request's own order."""
    tree = ctx.tree
    q = ctx.requests[rid]
    vec = ctx.vec(rid)
    nb = ctx.sim.balance_after(tree.index[q.leaf], vec, c)
    within = 0
    for r, d in enumerate(vec):
        if d > 0 and nb[r] < 0:
            within = 1
            break
    dk = drs_key(tree, c, nb)
    return (within, -tree.nodes[c].share_tier, _approx(dk), dk) + q.order


def _approx(dk) -> float:
    """The correctly rounded float of a DRS key.  Rounding is monotone, so unequal floats order
    two keys exactly as their exact values do, and only equal floats fall through to the exact
    (slower, Python-level) comparison of the next key element."""
    return 0.0 if dk == 0 else dk.n / dk.d


# ---------------------------------------------------------------- the dry sweep


def would_progress(ctx: PassCtx) -> bool:
    """Re-judge every pending request on the current state without changing it (A8 order per
    leaf, StrictFIFO blocking included); True as soon as one would make progress.

    Only a StrictFIFO leaf's verdicts depend on the order of its queue (a head blocks the rest).
    Elsewhere a dry verdict is a function of the unchanged ledgers, so those requests are judged
    in any order, without sorting (B2: a full cluster at scale L judges 50,000 requests here):
    newest first — the status map holds them in submission order — since fresh arrivals are the
    likeliest to progress, and a sweep that finds progress stops there (B10: in the tail checks
    that find progress, a seventh of the plans the oldest-first order made)."""
    tree = ctx.tree
    index, nodes, reqs, status = tree.index, tree.nodes, ctx.requests, ctx.status
    strict: dict[int, list[str]] = {}
    ctx.dry = True
    try:
        for rid in reversed([rid for rid, st in status.items() if st.state == "Pending"]):
            leaf = index[reqs[rid].leaf]
            if nodes[leaf].queueing == "StrictFIFO":
                w = strict.get(leaf)
                if w is None:
                    strict[leaf] = [rid]
                else:
                    w.append(rid)
            else:
                _evaluate(ctx, rid, leaf)
        for leaf in sorted(strict):
            waiting = sorted(strict[leaf], key=lambda rid: reqs[rid].head_order)
            for i, rid in enumerate(waiting):
                _evaluate(ctx, rid, leaf)
                if status[rid].state == "Pending":
                    for rest in waiting[i + 1:]:
                        block(ctx, rest, rid)
                    break
    except WouldProgress:
        return True
    finally:
        ctx.dry = False
    return False


def block(ctx: PassCtx, rid: str, by: str) -> None:
    """A8 StrictFIFO: ``rid`` waits behind the leaf's pending head ``by`` (not a verdict of its
    own, so it does not count as judged)."""
    _pending(ctx, rid, Reason.PENDING_STRICT_FIFO_BLOCKED, None, {"by": by})
    ctx.judged.pop(rid, None)
