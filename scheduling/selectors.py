"""Reads for the explain API and pages, always for a given user."""

from __future__ import annotations

from django.db.models import Q

from scheduling.engine import explain
from tenants.models import Tenant

from . import admitted_room
from . import snapshot as snap
from .models import Binding, EngineSnapshot, SchedulingDecision, SchedulingRequest, TenantSchedulingPolicy
from .redact import Redactor


def request_list(*, user):
    return SchedulingRequest.objects.visible_to(user).select_related("tenant")


def waiting_list(*, user, tenant: Tenant):
    """Requests of the tenant's subtree with pods that wait: not admitted, a shrunk gang whose
    controller recreated the pods it gave up (they stay gated, shrinks.py), or a gang holding
    back pods beyond what it was admitted for (admitted_room.py)."""
    shrunk = Q(pk__in=[])
    for cluster_id, ledger in EngineSnapshot.objects.exclude(shrinks={}).values_list("cluster_id", "shrinks"):
        shrunk |= Q(cluster_id=cluster_id, key__in=sorted((ledger or {}).get("gangs") or {}))
    held_back = Q(facts__has_key=admitted_room.HELD_BACK)
    return (request_list(user=user).filter(tenant__path__startswith=tenant.path)
            .filter(~Q(state="Admitted") | shrunk | held_back).order_by("namespace", "name"))


def waiting_reasons(*, user, tenant: Tenant, limit: int = 500) -> list[dict]:
    """The tenant page's waiting pods, each with its one-line reason as the user may read it."""
    names = Redactor(user)
    return [{"key": r.key, "state": r.state, "reason": r.reason, "message": names.request_message(r)}
            for r in waiting_list(user=user, tenant=tenant)[:limit]]


def request_why(*, request: SchedulingRequest, user) -> dict:
    """The engine's own account of the request, its latest message, and its recent decisions;
    other tenants' requests and tenants they name read anonymously (redact.py)."""
    names = Redactor(user)
    cluster = request.cluster_id
    record = EngineSnapshot.objects.filter(cluster_id=cluster).first()
    engine_view = explain.why(snap.state_from_json(record.state), request.key) if record else {}
    return {"request": request.key, "tenant": request.tenant.full_slug, "state": request.state,
            "reason": request.reason, "message": names.request_message(request), "notes": request.notes,
            "share": request.share, "lender_scope": names.node(request.lender_scope), "demand": request.demand,
            "engine": names.facts(cluster, engine_view),
            "decisions": [{"pass": d.pass_seq, "at": d.at, "action": d.action, "reason": d.reason,
                           "role": _role(d, request.key), "message": names.decision_message(d)}
                          for d in request_decisions(request=request, names=names)]}


def request_decisions(*, request: SchedulingRequest, names: Redactor, limit: int = 20) -> list[SchedulingDecision]:
    """The request's latest decisions, newest pass first: those about it, as the request or as the
    victim (the EVICT that ended it), and those made for it as the preemptor (the evictions and
    shrinks of other pods that made room for it).

    A decision is kept with the tenant of the request or victim it is about, so the rows about
    the request are read through that tenant's visibility (a namespace's pods may have had another
    tenant before). The rows made for it belong to their victims' tenants: they are shown because
    the request itself is visible, and only through ``names``, which leaves the victims unnamed to
    a reader who may not see them.

    A request's decisions start with the pass that first saw it: an earlier pod of the same name
    (deleted, then made again by its StatefulSet) was another request, with decisions of its own."""
    key = request.key
    about = names.access.visible_q("tenant") & (Q(request=key) | Q(victim=key))
    return list(SchedulingDecision.objects.filter(about | Q(preemptor=key), cluster_id=request.cluster_id,
                                                  pass_seq__gte=request.first_pass)[:limit])


def _role(d: SchedulingDecision, key: str) -> str:
    """What the request was in the decision: the victim (evicted, or a gang shrunk: the engine
    records that one as the SHRINK's request), the preemptor, or the request decided about."""
    if d.victim == key or (d.action == "SHRINK" and d.request == key):
        return "victim"
    return "preemptor" if d.preemptor == key else "request"


def tenant_share(*, tenant: Tenant, user) -> list[dict]:
    """Per cluster: owned, used, borrowed, lent out, reserved, entitlement (the tenant's fair share
    of what its subtree runs and waits for), DRS, pending by reason, and who borrows from it.
    ``lent_out`` is what other tenants hold of the tenant's idle owned capacity; ``borrowed_by``
    and ``who_is_borrowing_from`` split it among them (per resource their amounts add up to it)."""
    result = []
    names = Redactor(user)
    node = snap.node_id(tenant.pk)
    for record in EngineSnapshot.objects.select_related("cluster").exclude(config=None):
        config = snap.config_from_json(record.config)
        if node not in {n.id for n in config.nodes}:
            continue
        state = snap.state_from_json(record.state)
        status = explain.tenant_status(config, state, node)
        lent = explain.who_is_borrowing_from(config, state, node)
        borrowed_by: dict[str, dict[str, int]] = {}
        for borrower, amounts in sorted(lent.items()):
            entry = borrowed_by.setdefault(names.node(borrower), {})  # other tenants add up as one
            for resource, amount in amounts.items():
                entry[resource] = entry.get(resource, 0) + amount
        result.append({"cluster": record.cluster.name, "config_version": record.config_version, **status,
                       "node": tenant.full_slug, "borrowed_by": borrowed_by,
                       "who_is_borrowing_from": who_is_borrowing_from(tenant=tenant, cluster_id=record.cluster_id,
                                                                      lent=lent, user=user, names=names)})
    return result


def who_is_borrowing_from(*, tenant: Tenant, cluster_id: int, lent: dict[str, dict[str, int]], user,
                          names: Redactor | None = None) -> list[dict]:
    """One row per tenant that holds some of this tenant's idle owned capacity now.

    ``lent`` is the engine's attribution (``explain.who_is_borrowing_from``, borrowing leaf →
    amounts): the engine tracks no pairwise lending (X4), so each borrower's debt is shared among
    the idle owners that cover it, in proportion to what they may lend; per resource the amounts
    add up to the share's ``lent_out``. The row adds, from the borrower's open borrowed bindings
    under a scope that contains this tenant, the scopes whose pools lent (K's lender scope) and how
    many admissions hold them. Borrowers and scopes the user may not see read "another tenant".
    """
    names = names or Redactor(user)
    amounts: dict[int, dict[str, int]] = {}
    for node, by_resource in lent.items():
        borrower = snap.tenant_id_of(node)
        if borrower is None:
            continue
        entry = amounts.setdefault(borrower, {})
        for resource, amount in by_resource.items():
            entry[resource] = entry.get(resource, 0) + amount
    above = Tenant.objects.filter(path__in=tenant.ancestor_paths()).values_list("pk", flat=True)
    scopes = {snap.ROOT, snap.node_id(tenant.pk), *(snap.node_id(pk) for pk in above)}
    held: dict[int, dict] = {}
    rows = (Binding.objects.open().filter(cluster_id=cluster_id, share=Binding.Share.BORROWED,
                                          lender_scope__in=scopes, tenant_id__in=sorted(amounts))
            .values_list("tenant_id", "lender_scope"))
    for borrower, scope in rows:
        entry = held.setdefault(borrower, {"lender_scope": set(), "bindings": 0})
        entry["bindings"] += 1
        entry["lender_scope"].add(scope)
    result = []
    for borrower, by_resource in sorted(amounts.items()):
        entry = held.get(borrower, {"lender_scope": set(), "bindings": 0})
        result.append({"tenant": names.node(snap.node_id(borrower)), "borrowed": dict(sorted(by_resource.items())),
                       "lender_scope": sorted({names.node(n) for n in entry["lender_scope"]}),
                       "bindings": entry["bindings"]})
    return result


def tenant_required_checks(*, tenant: Tenant) -> list[str]:
    """The admission checks every pod of ``tenant`` must pass: its ancestors' and its own
    ``required_checks``, root first, each once (a check required above cannot be dropped below)."""
    lineage = [*tenant.ancestor_paths(), tenant.path]
    rows = (TenantSchedulingPolicy.objects.filter(tenant__path__in=lineage).order_by("tenant__path")
            .values_list("required_checks", flat=True))
    return list(dict.fromkeys(name for checks in rows for name in checks))
