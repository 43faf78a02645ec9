"""Rules V: a config version is accepted whole or rejected whole.

``validate_config`` returns the list of violations (rule id, message); an empty list means the
version may take effect.  The caller keeps the previous version in force when the list is not
empty (V6, property P18): validation never half-applies anything because configs are immutable
values and nothing is installed here.
"""

from __future__ import annotations

from fractions import Fraction

from .model import (
    BORROW_PREEMPT_POLICIES,
    PREFERENCES,
    QUEUEINGS,
    RECLAIM_POLICIES,
    WITHIN_POLICIES,
    Config,
    Node,
)


def validate_config(config: Config) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    res = set(config.resources)
    for r, q in config.capacity.items():
        if r not in res or not isinstance(q, int) or q < 0:
            errors.append(("V3", f"capacity of {r!r} must be a known resource with an integer ≥ 0"))
    errors += _check_tree(config.nodes)
    if errors:
        return errors  # V2/V3 need a sound tree to be meaningful
    by_id = {n.id: n for n in config.nodes}
    children: dict[str, list[Node]] = {n.id: [] for n in config.nodes}
    root = None
    for n in config.nodes:
        if n.parent is None:
            root = n
        else:
            children[n.parent].append(n)
    for n in sorted(config.nodes, key=lambda n: n.id):
        errors += _check_node(n, res, is_root=n is root)
    if any(not isinstance(q, int) for n in config.nodes for q in n.owned.values()):
        return errors
    for r in config.resources:
        cap = config.capacity.get(r, 0)
        root_owned = root.owned.get(r, cap)
        if root_owned > cap:
            errors.append(("V2", f"root owns {root_owned} {r} but capacity is {cap}"))
        for n in sorted(config.nodes, key=lambda n: n.id):
            own = root_owned if n is root else n.owned.get(r, 0)
            total = sum(c.owned.get(r, 0) for c in children[n.id])
            if total > own:
                errors.append(("V2", f"children of {n.id} own {total} {r}, more than its {own}"))
    if config.settings.borrowing_preference not in PREFERENCES:
        errors.append(("V4", "unknown borrowing_preference"))
    if not set(config.settings.fs_strategies) <= {"S2a", "S2b"} or not config.settings.fs_strategies:
        errors.append(("V4", "fs_strategies must be a non-empty subset of S2a, S2b"))
    del by_id
    return errors


def _check_tree(nodes: tuple[Node, ...]) -> list[tuple[str, str]]:
    ids = [n.id for n in nodes]
    if len(set(ids)) != len(ids):
        return [("V1", "duplicate node ids")]
    roots = [n.id for n in nodes if n.parent is None]
    if len(roots) != 1:
        return [("V1", f"exactly one root required, found {len(roots)}")]
    parent = {n.id: n.parent for n in nodes}
    for n in nodes:
        if n.parent is not None and n.parent not in parent:
            return [("V1", f"{n.id}: unknown parent {n.parent}")]
    for start in sorted(parent):
        seen, x = set(), start
        while x is not None:
            if x in seen:
                return [("V1", f"parent cycle through {x}")]
            seen.add(x)
            x = parent[x]
    return []


def _check_node(n: Node, res: set[str], *, is_root: bool) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    for fld in ("owned", "borrow_limit", "lend_limit", "max"):
        for r, q in getattr(n, fld).items():
            if r not in res:
                errs.append(("V3", f"{n.id}.{fld} names unknown resource {r!r}"))
            elif q is not None and (not isinstance(q, int) or isinstance(q, bool) or q < 0):
                errs.append(("V3", f"{n.id}.{fld}[{r}] must be an integer ≥ 0"))
    if errs:
        return errs
    for r in sorted(res):
        own = n.owned.get(r, 0)
        ll = n.lend_limit.get(r)
        if ll is not None and ll > own and not is_root:
            errs.append(("V3", f"{n.id}: lend_limit {ll} {r} exceeds owned {own}"))
        mx = n.max.get(r)
        if mx is not None and mx < own and not is_root:
            errs.append(("V3", f"{n.id}: max {mx} {r} below owned {own}"))
        if is_root and n.borrow_limit.get(r):
            errs.append(("V3", "root borrow_limit must be 0"))
    if not isinstance(n.weight, int | Fraction) or n.weight < 0:
        errs.append(("V4", f"{n.id}: weight must be a finite rational ≥ 0"))
    if not isinstance(n.share_tier, int):
        errs.append(("V4", f"{n.id}: share_tier must be an integer"))
    if n.reclaim_policy not in RECLAIM_POLICIES or n.within_policy not in WITHIN_POLICIES:
        errs.append(("V4", f"{n.id}: unknown reclaim/within policy"))
    if n.borrow_preempt.policy not in BORROW_PREEMPT_POLICIES or n.queueing not in QUEUEINGS:
        errs.append(("V4", f"{n.id}: unknown borrow_preempt policy or queueing"))
    for fld in ("reclaim_delay", "fairshare_delay", "quota_preemption_delay"):
        v = getattr(n, fld)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            errs.append(("V4", f"{n.id}: {fld} must be an integer ≥ 0"))
    return errs
