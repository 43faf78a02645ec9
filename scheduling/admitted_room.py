"""What an admission covers: a request never runs more than the engine admitted it for.

The engine admits a request for what it asked when it became a request.  A gang stays one
request whatever pods come and go under its name (gangs.py), so pods can join it afterwards — a
job scaled up, a gang-size raised — that no pass counted.  Ungating every gated pod of an
admitted gang would let those run on quota nobody checked, past owned shares, borrow limits and
the cluster itself.  So a gated pod is ungated only while the pods the request already runs and
this one fit in what it was admitted for, oldest first (then by name); the rest stay gated, and
the request's row says why and what to do.  The pods of a gang made again once none of its old
pods is left ungated are another request instead (cycle._made_again), which waits its turn.
"""

from __future__ import annotations

from dataclasses import replace

from scheduling.engine.model import State

from .gangs import per_pod
from .shrinks import Ledger, live, placed

HELD_BACK = "held_back"  # the fact of a request row counting the pods it holds back: they are listed as waiting


def ungatable(group: dict, admitted: dict[str, int]) -> list:
    """The group's gated pods that fit in ``admitted`` beside its ungated pods, in the order they go.

    Ungated pods being deleted still count: they hold their capacity until Kubernetes no longer
    lists them, as an evicted pod does (a crashed pod's replacement waits for it).  A resource
    the admission does not name (planned since) bounds nothing: a resource the cluster gained is
    no change of what a request asks (cycle._asked)."""
    resources = tuple(group["demand"])
    left = dict(admitted)
    for pod in placed(group):
        for r, q in per_pod(pod, resources).items():
            if r in left:
                left[r] -= q
    out = []
    for pod in sorted((p for p in group["gated"] if not p.deleting), key=lambda p: (p.created_at, p.name)):
        need = per_pod(pod, resources)
        if any(q > left[r] for r, q in need.items() if q and r in left):
            break  # in order: a gang's pods are taken oldest first, as its controller made them
        for r, q in need.items():
            if r in left:
                left[r] -= q
        out.append(pod)
    return out


def running_demand(group: dict) -> dict[str, int]:
    """What the group's running pods (ungated, not leaving) ask, in the engine's resources."""
    resources = tuple(group["demand"])
    total = dict.fromkeys(resources, 0)
    for pod in live(group):
        for r, q in per_pod(pod, resources).items():
            total[r] += q
    return total


def count_what_runs(state: State, groups: dict, shrunk: Ledger) -> State:
    """Hold what an admitted request's pods run beyond its admission: the cycle never ungates that
    much, so someone else removed their gates (Kubernetes' edit role allows it). As for pods made
    without the gate (adoption.py), the engine counts what runs — its tenant's share grows, and
    owners can take it back — rather than not seeing it. A shrunk gang's surplus is evicted instead
    (shrinks.py)."""
    widened = {}
    for key, alloc in state.allocations.items():
        g = groups.get(key)
        if g is None or alloc.terminating or key in shrunk.gangs:
            continue
        running = running_demand(g)
        if any(q > alloc.demand.get(r, 0) for r, q in running.items()):
            widened[key] = replace(alloc, demand={**alloc.demand, **{r: max(q, alloc.demand.get(r, 0))
                                                                     for r, q in running.items()}})
    return replace(state, allocations={**state.allocations, **widened}) if widened else state


def rows(state: State, groups: dict, shrunk: Ledger, before: dict) -> dict[str, dict]:
    """The word of each admitted gang holding pods back: how many it runs and why the rest wait;
    and of each that held pods back when the pass began (``before``: the request rows by key) and
    no longer does.  A shrunk gang's surplus is told by shrinks.rows."""
    out = {}
    for key, g in groups.items():
        st, alloc = state.status.get(key), state.allocations.get(key)
        if not g["gang"] or key in shrunk.gangs or st is None or st.state != "Admitted" or (
                alloc is None or alloc.terminating):
            continue
        running = len(live(g))
        ungated = len(ungatable(g, alloc.demand)) if g["gated"] else 0
        waiting = sum(1 for p in g["gated"] if not p.deleting) - ungated
        asked = state.requests[key].demand
        if any(q > asked.get(r, 0) for r, q in running_demand(g).items()):
            out[key] = {"message": f"Running {running} pods of gang {key}, more than it was admitted for: someone "
                                   f"removed the admission gate of pods beyond its admission. They count against its "
                                   f"tenant's share as they run.",
                        "facts": {"request": key, "pods": running, "beyond_admission": True}}
        elif waiting > 0:
            runs = running + ungated
            others = "other pod stays" if waiting == 1 else "other pods stay"
            out[key] = {"message": f"Running {runs} of {runs + waiting} pods: gang {key} is admitted once, for what it "
                                   f"asked then, and that does not cover more; its {waiting} {others} gated until "
                                   f"pods of the gang are gone. Delete the gang's pods and make it again to have it "
                                   f"admitted for what it asks now.",
                        "facts": {"request": key, "pods": runs, "size": runs + waiting, HELD_BACK: waiting}}
        elif HELD_BACK in (getattr(before.get(key), "facts", None) or {}):
            out[key] = {"message": f"Running all {running + ungated} pods of gang {key} on its admission.",
                        "facts": {"request": key, "pods": running + ungated}}
    return out
