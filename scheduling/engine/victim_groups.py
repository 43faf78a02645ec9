"""The groups of a plan's candidate stream, and what can be told of them before any is opened.

After the orphans, a plan's candidates are ordered by class (P-R < P-F < P-B < P-W) and then by
the DRS of a_v, descending.  Every a_v is a borrowing child of one of q's ancestors A (a
*level*), and the members (a_v, A, class) that share a class and a DRS form a *group*
(``skeleton``), which plans at one leaf share while the levels' borrowing children stay the
same.  Level by level, without reading allocations, ``level_impossible`` and ``level_dead`` tell
when no member below a level can give a valid candidate (``Candidates.hopeless``) or an untagged
one (``Candidates.strict_futile``): most plans of a full cluster end there (benchmark B10).
"""

from __future__ import annotations

from .victim_views import (
    all_protected,
    borrowing_children,
    demand_floor,
    fair_share_impossible,
    view_dq,
    view_node,
)

RANK = {"R": 0, "F": 1, "B": 2, "W": 3}


def path_levels(ctx, leaf: int, adv: int | None, reclaim_ok: bool, other: str | None) -> tuple:
    """(A, a_q, classes) for each level of the path of q's leaf where some class applies: P-R
    where A is above the advantage node ``adv`` (if the leaf's reclaim policy allows reclaim,
    ``reclaim_ok``), and ``other`` ("B" or "F", None if neither applies) unless P-R already
    does under reclaim policy Any.  Fixed for the pass by the leaf and ``adv`` (``reclaim_ok``
    and ``other`` follow from the leaf and the settings)."""
    known = ctx.victim_index.setdefault("levels", {})
    got = known.get((leaf, adv))
    if got is not None:
        return got
    tree, node = ctx.tree, ctx.tree.nodes[leaf]
    path = tree.path[leaf]
    levels = []
    for i in range(1, len(path)):
        A = path[i]
        r_ok = reclaim_ok and adv is not None and tree.depth[adv] > tree.depth[A]
        classes = []
        if r_ok:
            classes.append("R")
        if other is not None and (not r_ok or node.reclaim_policy != "Any"):
            classes.append(other)
        if classes:
            levels.append((A, path[i - 1], tuple(classes)))
    got = known[leaf, adv] = tuple(levels)
    return got


def _first(t: tuple):
    return t[0]


def skeleton(ctx, leaf: int, levels: tuple, need: tuple[int, ...], within: bool) -> tuple[list[tuple], dict, dict]:
    """The groups of a plan's candidate stream, in order, as (key, members), and the DRS of
    each a_v, as a value and as a descending sort key: by (class, exact DRS), sorted by (class,
    DRS descending), members (a_v, A, cls).
    They follow from the levels (``Candidates``) and each level's borrowing children, so plans
    at one leaf share them while those lists are the same objects (``borrowing_children``);
    the caller never changes them."""
    lists = tuple(borrowing_children(ctx, A, need) for A, _, _ in levels)
    cache = ctx.victim_index.setdefault("skeleton", {})
    known = (leaf, levels, need, within)
    got = cache.get(known)
    if got is not None and all(a is b for a, b in zip(got[0], lists, strict=True)):
        return got[1:]
    # Groups by (class, exact DRS): (sort key, segment key (class, −DRS), members).
    groups: dict[tuple, tuple] = {}
    drs: dict[int, object] = {}
    descending: dict[int, tuple] = {}
    if within:
        groups[(RANK["W"], 0, 1)] = ((RANK["W"], -0.0, 0), (RANK["W"], 0), [(leaf, leaf, "W")])
    for (A, a_q, classes), children in zip(levels, lists, strict=True):
        for c, d, exact, order in children:
            if c == a_q:
                continue
            drs[c] = d
            descending[c] = order
            for cls in classes:
                rank = RANK[cls]
                g = groups.get((rank, *exact))
                if g is None:
                    g = groups[rank, *exact] = ((rank, *order), (rank, order[1]), [])
                g[2].append((c, A, cls))
    ordered = [(key, members) for _, key, members in sorted(groups.values(), key=_first)]
    cache[known] = (lists, ordered, drs, descending)
    return ordered, drs, descending


def level_impossible(ctx, leaf: int, vec: list[int], need: tuple[int, ...], A: int, a_q: int,
                      classes: tuple[str, ...]) -> bool:
    """No member below ``A`` (its borrowing children but a_q) can hold a valid candidate: there
    is none, or the level's only class is P-F and each member is impossible for every strategy
    the settings name (``fair_share_impossible``).  Kept while A's children and DRS(a_q + q) are
    unchanged (and the demand floor, which a shrink lowers)."""
    cache = ctx.victim_index.setdefault("level", {})
    key = (A, a_q, tuple(vec), classes) if ctx.tree.plain else (leaf, A, a_q, tuple(vec), classes)
    got = cache.get(key)
    if got is not None and got[4] == ctx.version:  # the view is unchanged: so is the answer
        return got[3]
    members_of = borrowing_children(ctx, A, need)
    dq = view_dq(ctx, leaf, vec, a_q)
    # The floor only enters the fair-share test: a plan without P-F (B4: owned reclaim) does not
    # read every demand of the pass to find it (most of B4's time at scale XL).
    fair_share_only = classes == ("F",)
    floor = tuple(demand_floor(ctx)) if fair_share_only else None
    if got is not None and got[0] is members_of and got[1] == dq and got[2] == floor:
        cache[key] = got[:4] + (ctx.version,)
        return got[3]
    members = [c for c, *_ in members_of if c != a_q]
    impossible = not members
    if members and fair_share_only:
        strategies = ctx.settings.fs_strategies
        s2a, s2b = "S2a" in strategies, "S2b" in strategies
        impossible = True
        for c in members:
            balance, cur = view_node(ctx, c)
            if not fair_share_impossible(ctx, dq, cur, c, balance, s2a, s2b):
                impossible = False
                break
    cache[key] = (members_of, dq, floor, impossible, ctx.version)
    return impossible


def level_dead(ctx, cands, vec: list[int], A: int, a_q: int, classes: tuple[str, ...]) -> bool:
    """No member below ``A`` can give a strict round a candidate to take
    (``Candidates.strict_futile``, which is ``cands``): for each of the level's classes, every
    candidate would be tagged — P-R while the reclaim delay runs; P-F and P-B while the
    fair-share delay runs or when A is above q's fence; P-F also when every leaf below the
    member is still protected or the budget is spent even for the least demand — or (P-F) the
    member is impossible (``fair_share_impossible``)."""
    tree, now, leaf, need = ctx.tree, ctx.now, cands.leaf, cands.need_t
    fenced = cands.fence >= 0 and tree.depth[A] < tree.depth[cands.fence]
    delayed, reclaiming = now < cands.fs_until, now < cands.reclaim_until
    budget = ctx.fs_budget
    # The demand floor only enters P-F's tests (as in level_impossible).
    floor = tuple(demand_floor(ctx)) if "F" in classes else None
    spent = floor is not None and budget is not None and any(
        u + d > b for u, d, b in zip(ctx.fs_used, floor, budget, strict=True))
    cache = ctx.victim_index.setdefault("level_dead", {})
    key = (A, a_q, tuple(vec), classes, fenced, delayed, reclaiming, spent)
    if not tree.plain:
        key += (leaf,)
    got = cache.get(key)
    if got is not None and got[4] == ctx.version:  # the view is unchanged: so is the answer
        return got[3]
    members_of = borrowing_children(ctx, A, need)
    dq = view_dq(ctx, leaf, vec, a_q)
    if got is not None and got[0] is members_of and got[1] == dq and got[2] == floor:
        cache[key] = got[:4] + (ctx.version,)
        return got[3]
    strategies = ctx.settings.fs_strategies
    s2a, s2b = "S2a" in strategies, "S2b" in strategies
    dead = True
    for c, *_ in members_of:
        if c == a_q:
            continue
        for cls in classes:
            if cls == "R":
                ok = reclaiming
            elif fenced or delayed:
                ok = True
            elif cls == "B":
                ok = False
            else:
                balance, cur = view_node(ctx, c)
                ok = spent or all_protected(ctx, c) or fair_share_impossible(ctx, dq, cur, c, balance, s2a, s2b)
            if not ok:
                dead = False
                break
        if not dead:
            break
    cache[key] = (members_of, dq, floor, dead, ctx.version)
    return dead
