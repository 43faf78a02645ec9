"""Rules D: degraded capacity.

D1: when the measured capacity C of a resource is below the root's owned amount, guarantees are
scaled top-down: ``owned'(root) = C`` and ``owned'(c) = ⌊owned(c)·owned'(x)/owned(x)⌋``, the
integer remainder handed out by largest remainder, ties by id.  Because each child's share is
floored from its parent's, ``Σ owned'(c) ≤ owned'(x)`` (V2) holds by construction, so every
other rule keeps working unchanged on ``owned'``.  Nothing is evicted by the scaling itself (D2):
excess usage simply becomes borrowing that owners may reclaim through P-R.
"""

from __future__ import annotations

from .model import id_key


def scale_owned(
    root: str,
    children: dict[str, list[str]],
    owned: dict[str, int],
    capacity: int,
) -> dict[str, int]:
    """Effective owned for one resource; ``owned`` must satisfy V2.  Returns a new mapping."""
    out = dict(owned)
    if capacity >= owned[root]:
        return out
    out[root] = capacity
    stack = [root]
    while stack:
        x = stack.pop()
        kids = children[x]
        if not kids:
            continue
        old = owned[x]
        new = out[x]
        if old == 0:
            for c in kids:
                out[c] = 0
        else:
            # Children keep their proportion of the parent's guarantee; the parent's private pool
            # (owned minus children) shrinks in the same proportion and absorbs what is left.
            shares = [(owned[c] * new // old, owned[c] * new % old, c) for c in kids]
            floor_sum = sum(s for s, _, _ in shares)
            target = (sum(owned[c] for c in kids) * new) // old
            extra = target - floor_sum
            ranked = sorted(shares, key=lambda s: (-s[1], id_key(s[2])))
            bonus = {c for _, _, c in ranked[:extra]}
            for s, _, c in shares:
                out[c] = s + (1 if c in bonus else 0)
        stack.extend(reversed(kids))
    return out
