"""What an admission covers: a request never runs more than the engine admitted it for.

The engine admits a request for what it asked when it became a request.  A gang stays one
request whatever pods come and go under its name (gangs.py), so pods can join it afterwards — a
job scaled up, a gang-size raised — that no pass counted.  Ungating every gated pod of an
admitted gang would let those run on quota nobody checked, past owned shares, borrow limits and
the cluster itself.  So a gated pod is ungated only while the pods the request already runs and
this one fit in what it was admitted for, oldest first (then by name); the rest stay gated, and
the request's row says why and what to do.  The pods of a gang made again while none of its
pods runs are another request instead (cycle._made_again), which waits its turn.
"""

from __future__ import annotations

from scheduling.engine.model import State

from .gangs import per_pod
from .shrinks import Ledger, live

HELD_BACK = "held_back"  # the fact of a request row counting the pods it holds back: they are listed as waiting


def ungatable(group: dict, admitted: dict[str, int]) -> list:
    """The group's gated pods that fit in ``admitted`` beside its running pods, in the order they go."""
    resources = tuple(group["demand"])
    left = dict(admitted)
    for pod in live(group):
        for r, q in per_pod(pod, resources).items():
            left[r] = left.get(r, 0) - q
    out = []
    for pod in sorted(group["gated"], key=lambda p: (p.created_at, p.name)):
        need = per_pod(pod, resources)
        if any(q > left.get(r, 0) for r, q in need.items() if q):
            break  # in order: a gang's pods are taken oldest first, as its controller made them
        for r, q in need.items():
            left[r] = left.get(r, 0) - q
        out.append(pod)
    return out


def rows(state: State, groups: dict, shrunk: Ledger) -> dict[str, dict]:
    """The word of each admitted gang holding pods back: how many it runs and why the rest wait.
    A shrunk gang's surplus is told by shrinks.rows."""
    out = {}
    for key, g in groups.items():
        st, alloc = state.status.get(key), state.allocations.get(key)
        if not g["gang"] or not g["gated"] or key in shrunk.gangs or st is None or st.state != "Admitted" or (
                alloc is None or alloc.terminating):
            continue
        fits = len(live(g)) + len(ungatable(g, alloc.demand))
        waiting = len(g["members"]) - fits
        if waiting <= 0:
            continue
        others = "other pod stays" if waiting == 1 else "other pods stay"
        out[key] = {"message": f"Running {fits} of {fits + waiting} pods: gang {key} was admitted for {fits}, and a "
                               f"gang's size is fixed once admitted; its {waiting} {others} gated. Delete the gang's "
                               f"pods and make it again to have it admitted at its new size.",
                    "facts": {"request": key, "pods": fits, "size": fits + waiting, HELD_BACK: waiting}}
    return out
