"""Binding rows for one pass: which holds open and which end (append-only, see models.Binding).

The engine's allocations before and after the pass say what changed; the open rows in the
database say what is already recorded, so a pass that crashed before its commit is simply
redone. Share and lender come from the ADMIT decision's facts: the engine names the lender
scope and the borrowed amounts for ADMITTED_BORROWING; for an admission by transfer they are
read from the per-node numbers (the highest node on the path that uses more than it owns is the
borrower, its parent the lender scope — the same rule the engine applies).
"""

from __future__ import annotations

from scheduling.engine.model import Allocation, Decision

from . import snapshot as snap
from .models import Binding

ADOPTED = "ADOPTED"  # running pods the engine did not admit (made before the portal, or without the gate)


def pass_bindings(*, cluster_id: int, open_ids: dict[str, int], before: dict[str, Allocation],
                  after: dict[str, Allocation], decisions: list[Decision], groups: dict, released: set[str],
                  tenants: set[int], pass_seq: int, config_version: int) -> list[Binding]:
    """The rows this pass inserts: closes first, then opens. ``open_ids``: request → its open row;
    ``released``: evicted requests whose pods Kubernetes confirmed gone."""
    admits = {d.request: d for d in decisions if d.action == "ADMIT"}
    common = {"cluster_id": cluster_id, "pass_seq": pass_seq, "config_version": config_version}
    ends: dict[int, str] = {}
    for key, opened_id in open_ids.items():
        now = after.get(key)
        readmitted = now is not None and key in before and before[key].admitted_at != now.admitted_at
        if now is not None and not readmitted:
            continue
        if key in released:
            ends[opened_id] = Binding.End.EVICTED
        elif readmitted or key in groups:
            ends[opened_id] = Binding.End.RELEASED  # the engine gave the capacity back while the pods exist
        else:
            ends[opened_id] = Binding.End.FINISHED
    rows = [Binding(event=Binding.Event.CLOSE, opened_id=row.pk, reason=ends[row.pk], tenant_id=row.tenant_id,
                    request=row.request, namespace=row.namespace, pods=row.pods, share=row.share,
                    lender_scope=row.lender_scope, lender_id=row.lender_id, demand=row.demand, borrowed=row.borrowed,
                    **common)
            for row in Binding.objects.filter(pk__in=list(ends)).order_by("request")] if ends else []
    for key, alloc in sorted(after.items()):
        if key in open_ids and not (key in before and before[key].admitted_at != alloc.admitted_at):
            continue
        group = groups.get(key) or {}
        tenant = group.get("tenant") or _tenant_of(alloc.leaf, tenants)
        if tenant not in tenants:
            continue
        decision = admits.get(key)
        share, lender_scope, borrowed = share_of(decision, alloc.demand) if decision else ("owned", "", {})
        rows.append(Binding(event=Binding.Event.OPEN, reason=decision.reason if decision else ADOPTED, share=share,
                            lender_scope=lender_scope, lender_id=_tenant_of(lender_scope, tenants), borrowed=borrowed,
                            tenant_id=tenant, request=key, namespace=key.split("/", 1)[0],
                            pods=sorted(p.name for p in group.get("pods", [])), demand=dict(alloc.demand), **common))
    return rows


def share_of(decision: Decision, demand: dict[str, int]) -> tuple[str, str, dict]:
    """(owned|borrowed, lender scope node, borrowed amounts) of an ADMIT decision."""
    facts = decision.facts or {}
    if facts.get("lender_scope") and facts.get("borrowed"):
        return "borrowed", str(facts["lender_scope"]), {r: int(v) for r, v in facts["borrowed"].items()}
    path, per_node = facts.get("path") or [], facts.get("per_node") or {}
    scope, borrowed = "", {}
    for i, node in enumerate(path[:-1]):  # leaf → root; the root never borrows
        numbers = per_node.get(node) or {}
        over = {r: min(q, numbers["used_after"].get(r, 0) - numbers["owned"].get(r, 0))
                for r, q in demand.items()
                if q > 0 and numbers.get("used_after", {}).get(r, 0) > numbers.get("owned", {}).get(r, 0)}
        if over:
            scope, borrowed = path[i + 1], over
    return ("borrowed", scope, borrowed) if borrowed else ("owned", "", {})


def _tenant_of(node: str, tenants: set[int]) -> int | None:
    """``t<pk>`` or ``t<pk>#self`` → pk; the root (the cluster) and unknown nodes → None."""
    if not node or node == snap.ROOT:
        return None
    pk = node.split("#", 1)[0].removeprefix("t")
    return int(pk) if pk.isdigit() and int(pk) in tenants else None
