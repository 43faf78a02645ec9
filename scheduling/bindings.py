"""Binding rows for one pass: which holds open and which end (append-only, see models.Binding).

The engine's allocations before and after the pass say what changed; the open rows in the
database say what is already recorded, so a pass that crashed before its commit is simply
redone. Share and lender come from the ADMIT decision's facts: the engine names the lender
scope and the borrowed amounts for ADMITTED_BORROWING; for an admission by transfer they are
read from the per-node numbers (the highest node on the path that uses more than it owns is the
borrower, its parent the lender scope — the same rule the engine applies).
"""

from __future__ import annotations

from collections.abc import Callable

from scheduling.engine.accounting import Ledger
from scheduling.engine.model import Allocation, Config, Decision, State
from scheduling.engine.tree import compile_tree

from . import snapshot as snap
from .models import Binding

ADOPTED = "ADOPTED"  # running pods the engine did not admit (made before the portal, or without the gate)
SHRUNK = "SHRUNK"  # the engine shrank the hold (elastic shrink, P4): reopened at the new size


def pass_bindings(*, cluster_id: int, open_ids: dict[str, int], before: dict[str, Allocation],
                  after: dict[str, Allocation], decisions: list[Decision], groups: dict, released: set[str],
                  tenants: set[int], pass_seq: int, config_version: int,
                  resized: Callable[[str, Allocation], dict] | None = None,
                  adopted: dict[str, tuple[str, str, dict]] | None = None,
                  replaced: frozenset[str] = frozenset()) -> list[Binding]:
    """The rows this pass inserts: closes first, then opens. ``open_ids``: request → its open row;
    ``released``: evicted requests whose pods Kubernetes confirmed gone; ``resized(key, alloc)``:
    the share, lender scope, borrowed amounts and pods of a hold whose size changed (a shrink);
    ``adopted``: the share of the holds adopted this pass (adoption.py); ``replaced``: requests
    whose pod was deleted and made again under their name (cycle._made_again): the old hold ends
    as finished, and a hold of the new pod is another, even if admitted in the same second."""
    admits = {d.request: d for d in decisions if d.action == "ADMIT"}
    common = {"cluster_id": cluster_id, "pass_seq": pass_seq, "config_version": config_version}

    def changed(key, alloc) -> str | None:  # "readmitted", "resized", or None (the same hold)
        was = before.get(key)
        if was is None or alloc is None:
            return None
        if key in replaced or was.admitted_at != alloc.admitted_at:
            return "readmitted"
        return "resized" if was.demand != alloc.demand and resized is not None else None

    ends: dict[int, str] = {}
    for key, opened_id in open_ids.items():
        now = after.get(key)
        how = changed(key, now)
        if now is not None and how is None:
            continue
        if key in released:
            ends[opened_id] = Binding.End.EVICTED
        elif key in replaced:
            ends[opened_id] = Binding.End.FINISHED  # its pod is gone; the pod of its name now is another
        elif how == "resized":
            ends[opened_id] = Binding.End.SHRUNK
        elif how == "readmitted" or key in groups:
            ends[opened_id] = Binding.End.RELEASED  # the engine gave the capacity back while the pods exist
        else:
            ends[opened_id] = Binding.End.FINISHED
    rows = [Binding(event=Binding.Event.CLOSE, opened_id=row.pk, reason=ends[row.pk], tenant_id=row.tenant_id,
                    request=row.request, namespace=row.namespace, pods=row.pods, share=row.share,
                    lender_scope=row.lender_scope, lender_id=row.lender_id, demand=row.demand, borrowed=row.borrowed,
                    **common)
            for row in Binding.objects.filter(pk__in=list(ends)).order_by("request")] if ends else []
    for key, alloc in sorted(after.items()):
        how = changed(key, alloc)
        if key in open_ids and how is None:
            continue
        group = groups.get(key) or {}
        tenant = group.get("tenant") or _tenant_of(alloc.leaf, tenants)
        if tenant not in tenants:
            continue
        decision = admits.get(key)
        pods = sorted(p.name for p in group.get("pods", []))
        if how == "resized":
            now = resized(key, alloc)
            reason, share, lender_scope, borrowed = SHRUNK, now["share"], now["lender_scope"], now["borrowed"]
            pods = now["pods"] if now["pods"] is not None else pods
        elif decision is not None:
            reason = decision.reason
            share, lender_scope, borrowed = share_of(decision, alloc.demand)
        else:
            reason = ADOPTED
            share, lender_scope, borrowed = (adopted or {}).get(key) or ("owned", "", {})
        rows.append(Binding(event=Binding.Event.OPEN, reason=reason, share=share, lender_scope=lender_scope,
                            lender_id=_tenant_of(lender_scope, tenants), borrowed=borrowed, tenant_id=tenant,
                            request=key, namespace=key.split("/", 1)[0], pods=pods, demand=dict(alloc.demand),
                            **common))
    return rows


def share_of(decision: Decision, demand: dict[str, int]) -> tuple[str, str, dict]:
    """(owned|borrowed, lender scope node, borrowed amounts) of an ADMIT decision."""
    facts = decision.facts or {}
    if facts.get("lender_scope") and facts.get("borrowed"):
        return "borrowed", str(facts["lender_scope"]), {r: int(v) for r, v in facts["borrowed"].items()}
    return _share_from(facts.get("path") or [], facts.get("per_node") or {}, demand)


def held_shares(config: Config, state: State) -> Callable[[Allocation], tuple[str, str, dict]]:
    """The share of a hold in a state, read as for an admission by transfer: from the owned and
    used numbers of the nodes on its path, with every allocation of the state counted (the usage
    is summed once, for all the holds asked about)."""
    tree, ledger = _charged(config, state)
    return lambda alloc: _share_at(tree, ledger, alloc)


def shares_in_turn(config: Config, state: State, holds: list[Allocation]) -> dict[str, tuple[str, str, dict]]:
    """The share of each of ``holds`` (allocations not yet in ``state``), read as if they were
    admitted one after another in the order given: each counts the state's allocations and the
    holds before it. Of twelve such holds on an owned eight, the first eight are owned and the
    last four borrowed; ``held_shares``, counting them all at once, would call all twelve borrowed."""
    tree, ledger = _charged(config, state)
    shares = {}
    for alloc in holds:
        ledger.add(tree.index[alloc.leaf], tree.vec(alloc.demand))
        shares[alloc.request] = _share_at(tree, ledger, alloc)
    return shares


def _charged(config: Config, state: State) -> tuple:
    tree = compile_tree(config, state.capacity)
    ledger = Ledger(tree)
    for a in state.allocations.values():
        ledger.add(tree.index[a.leaf], tree.vec(a.demand))
    return tree, ledger


def _share_at(tree, ledger: Ledger, alloc: Allocation) -> tuple[str, str, dict]:
    res = tree.config.resources
    path = tree.path[tree.index[alloc.leaf]]
    per_node = {tree.ids[x]: {"owned": dict(zip(res, tree.owned[x], strict=True)),
                              "used_after": dict(zip(res, ledger.used[x], strict=True))} for x in path}
    return _share_from([tree.ids[x] for x in path], per_node, alloc.demand)


def _share_from(path: list[str], per_node: dict, demand: dict[str, int]) -> tuple[str, str, dict]:
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
