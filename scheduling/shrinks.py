"""Enacting the engine's elastic shrinks (P4): a gang shrunk to n pods keeps n, the rest go.

The engine models a shrink as immediate: in the pass that decides it, the gang's allocation
drops to the new demand and the preemptor is admitted on what the gang gave up
(ADMITTED_BY_TRANSFER).  On the cluster the pods beyond n hold their cpu until their grace runs
out.  So the cycle keeps a ledger next to the engine state (``EngineSnapshot.shrinks``, written
in the pass's transaction, before anything is enacted):

* ``gangs``: gang → the pods it keeps.  Every pass evicts its running pods beyond that number,
  newest first, then by name — the same pods pass after pass, so a worker that dies between the
  commit and the evictions loses nothing — and keeps the pods its controller recreates gated, as
  the shrunk gang's surplus, ungating only to refill what it keeps.
* ``holds``: preemptor → gang → the pods the gang must be down to before the preemptor's pods are
  ungated.  This is the eviction rule (a victim's capacity is released only once Kubernetes no
  longer lists its pods) applied to part of a gang: capacity safety (P1) then holds on the nodes,
  not only in the engine's books.  As for an eviction (the engine's expiry, A1), a hold ends at
  the gang's grace plus ``release_slack`` even if the pods never go.

Once the pods beyond n are gone, the gang's allocation is rounded down to the n whole pods it
runs: the engine frees per resource the least that lets the preemptor in, which need not be a
whole number of pods, and the gang's pods no longer hold the remainder.

What the request rows say of a shrink names the gang and its preemptor by their request ids, as
the engine's messages do, with the ids in the row's facts: each reader gets them named for them
(redact.py), so the gang's tenant reads "another tenant's workload" where operators and members
of a common parent read the preemptor's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from scheduling.engine.model import State

from . import gangs
from . import snapshot as snap
from .redact import ANOTHER_WORKLOAD

RULE_WORDS = {"EVICT_RECLAIM_OWNED": "owned reclaim", "EVICT_FAIR_SHARE": "fair sharing",
              "EVICT_BORROW_PREEMPT": "borrow preemption",
              "EVICT_WITHIN_LEAF_PRIORITY": "a higher-priority request of its tenant"}


@dataclass
class Ledger:
    gangs: dict[str, dict] = field(default_factory=dict)
    holds: dict[str, dict[str, dict]] = field(default_factory=dict)
    lifted: dict[str, tuple[str, dict, bool]] = field(default_factory=dict)  # this pass only: q → (gang, hold, gone)

    @classmethod
    def from_json(cls, data: dict | None) -> Ledger:
        data = data or {}
        return cls(gangs={g: dict(e) for g, e in (data.get("gangs") or {}).items()},
                   holds={q: {g: dict(h) for g, h in by.items()} for q, by in (data.get("holds") or {}).items()})

    def to_json(self) -> dict:
        return {"gangs": self.gangs, "holds": self.holds} if self.gangs or self.holds else {}


def placed(group: dict) -> list:
    """The group's pods without the admission gate: they hold node capacity, or may at any moment."""
    return [p for p in group["pods"] if snap.GATE not in p.scheduling_gates]


def live(group: dict) -> list:
    """Placed pods not being deleted, oldest first (then by name): the order in which they are kept."""
    return sorted((p for p in placed(group) if not p.deleting), key=lambda p: (p.created_at, p.name))


def excess(group: dict, keep: int) -> list:
    """The running pods beyond ``keep``: the newest, then the last by name."""
    return live(group)[keep:]


def kept(group: dict, keep: int) -> list[str]:
    return sorted(p.name for p in live(group)[:keep])


def whole_pods(demand: dict[str, int], per_pod: dict[str, int]) -> int | None:
    """How many whole pods of ``per_pod`` fit in ``demand`` (None: the pods ask for nothing scheduled)."""
    counts = [demand.get(r, 0) // q for r, q in per_pod.items() if q > 0]
    return min(counts) if counts else None


def settle(ledger: Ledger, state: State, groups: dict, now: int) -> State:
    """Before the engine decides: forget gangs that are no longer shrunk allocations, end the holds
    whose gangs are down to size (or out of time), and round finished shrinks down to whole pods."""
    resized = {}
    for g, entry in sorted(ledger.gangs.items()):
        a, group = state.allocations.get(g), groups.get(g)
        if a is None or a.terminating or a.admitted_at != entry["admitted_at"] or group is None:
            del ledger.gangs[g]  # finished, evicted whole, or admitted afresh: the shrink is over
            continue
        if len(placed(group)) <= entry["pods"]:
            per = entry["per_pod"]
            whole = {r: min(q, entry["pods"] * per[r]) if r in per else q for r, q in a.demand.items()}
            if whole != a.demand:
                resized[g] = replace(a, demand=whole)
    for q, by_gang in sorted(ledger.holds.items()):
        if q not in state.requests:
            del ledger.holds[q]
            continue
        for g, hold in sorted(by_gang.items()):
            group = groups.get(g)
            gone = group is None or len(placed(group)) <= hold["pods"]
            if gone or now >= hold["until"]:
                del by_gang[g]
                ledger.lifted[q] = (g, hold, gone)
        if by_gang:
            ledger.lifted.pop(q, None)
        else:
            del ledger.holds[q]
    return replace(state, allocations={**state.allocations, **resized}) if resized else state


def record(ledger: Ledger, decisions, state: State, groups: dict, now: int, *, resources: tuple[str, ...],
           release_slack: int) -> None:
    """After the engine decided: a SHRINK of gang g for q sets the pods g keeps and holds q's pods
    until g is down to that number."""
    for d in decisions:
        if d.action != "SHRINK":
            continue
        g, q = d.request, d.preemptor
        group, a = groups.get(g), state.allocations.get(g)
        if group is None or a is None or q not in state.requests:
            continue
        per = gangs.per_pod((placed(group) or group["pods"])[0], resources)
        keep = whole_pods(d.facts.get("to") or a.demand, per)
        if keep is None:
            continue  # nothing of what the shrink freed is held by these pods: no pod has to go
        entry = ledger.gangs.get(g)
        if entry is None or entry["admitted_at"] != a.admitted_at:
            entry = ledger.gangs[g] = {"size": group["size"], "admitted_at": a.admitted_at, "per_pod": per,
                                       "pods": keep}
        entry.update(pods=min(entry["pods"], keep), rule=d.reason, by=q)
        grace = state.requests[g].reclaim_grace
        ledger.holds.setdefault(q, {})[g] = {"pods": keep, "until": now + grace + release_slack}
        ledger.lifted.pop(q, None)


def held(ledger: Ledger) -> set[str]:
    """Admitted requests whose pods stay gated: a gang shrunk for them still has too many pods."""
    return set(ledger.holds)


def ungate_room(ledger: Ledger, key: str, group: dict) -> int | None:
    """How many gated pods of a shrunk gang may be ungated (None: not shrunk, no limit)."""
    entry = ledger.gangs.get(key)
    return None if entry is None else max(0, entry["pods"] - len(placed(group)))


def to_evict(ledger: Ledger, groups: dict) -> list:
    """Pods of shrunk gangs beyond what they keep, for this pass to evict."""
    return [p for g, entry in sorted(ledger.gangs.items()) if g in groups for p in excess(groups[g], entry["pods"])]


def rows(ledger: Ledger, state: State, groups: dict) -> dict[str, dict]:
    """What the request rows say beyond the engine's word: a shrunk gang counts its pods, a held
    preemptor is Reserved until the gang is down to size, a hold that ended says so. Each message
    comes with facts naming the request ids it holds, which is how readers get them redacted whole
    (a gang's name may have spaces)."""
    out: dict[str, dict] = {}
    for g, entry in ledger.gangs.items():
        group = groups.get(g)
        if group is None:
            continue
        n, size, on = entry["pods"], entry["size"], len(placed(group))
        # Rows recorded before the ledger kept every preemptor have "" (migration 0007 fills most in).
        by = entry.get("by") or ANOTHER_WORKLOAD
        how = f"by {RULE_WORDS.get(entry.get('rule'), entry.get('rule'))} for {by}"
        waiting = len(group["pods"]) - on
        rest = f"; {_pods(waiting, 'more pod waits', 'more pods wait')} gated." if waiting else "."
        facts = {"request": g, "preemptor": entry.get("by", ""), "rule": entry.get("rule"), "pods": n, "size": size}
        if on > n:
            out[g] = {"message": f"Shrinking gang {g} to {n} of {size} pods {how}: "
                                 f"{_pods(on - n, 'pod', 'pods')} beyond {n} being evicted{rest}", "facts": facts}
        else:
            out[g] = {"message": f"Running {len(live(group))} of {size} pods: gang {g} was shrunk to {n} {how}{rest}",
                      "facts": facts}
    for q, by_gang in ledger.holds.items():
        g, hold = sorted(by_gang.items())[0]
        on = len(placed(groups[g])) if g in groups else 0
        out[q] = {"state": "Reserved", "reason": "PENDING_WAITING_FOR_VICTIMS",
                  "message": f"Capacity reserved for {q}: its pods stay gated until {g}, a gang shrunk for it, is "
                             f"down to {hold['pods']} pods (it has {on}).",
                  "facts": {"request": q, "victims": sorted(by_gang), "pods": hold["pods"]}}
    for q, (g, hold, gone) in ledger.lifted.items():
        if q in ledger.holds or getattr(state.status.get(q), "state", None) != "Admitted":
            continue
        why = (f"its pods beyond {hold['pods']} are gone" if gone
               else f"its pods beyond {hold['pods']} outlived their grace and the release slack")
        out[q] = {"message": f"Admitted {q} on the capacity {g} gave up by shrinking: {why}.",
                  "facts": {"request": q, "victims": [g], "pods": hold["pods"]}}
    return out


def _pods(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def shrink_note(ledger: Ledger, d) -> str:
    """What the cycle does about one SHRINK decision, appended to its message."""
    hold = ledger.holds.get(d.preemptor, {}).get(d.request)
    if hold is None:
        return " The gang's pods were gone before the portal could act."
    return (f" Enacted: the gang's newest pods beyond {hold['pods']} are evicted; {d.preemptor} stays gated "
            f"until they are gone.")
