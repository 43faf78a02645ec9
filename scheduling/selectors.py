"""Reads for the explain API and pages, always for a given user."""

from __future__ import annotations

from scheduling.engine import explain
from tenants.access import access_for
from tenants.models import Tenant

from . import snapshot as snap
from .models import EngineSnapshot, SchedulingDecision, SchedulingRequest


def request_list(*, user):
    return SchedulingRequest.objects.visible_to(user).select_related("tenant")


def request_why(*, request: SchedulingRequest, user) -> dict:
    """The engine's own account of the request, its latest message, and its recent decisions."""
    record = EngineSnapshot.objects.filter(cluster_id=request.cluster_id).first()
    engine_view = explain.why(snap.state_from_json(record.state), request.key) if record else {}
    decisions = SchedulingDecision.objects.visible_to(user).filter(request=request.key,
                                                                   cluster_id=request.cluster_id)[:20]
    return {"request": request.key, "tenant": request.tenant.full_slug, "state": request.state,
            "reason": request.reason, "message": request.message, "share": request.share,
            "lender_scope": _name(request.lender_scope, user), "demand": request.demand, "engine": engine_view,
            "decisions": [{"pass": d.pass_seq, "at": d.at, "action": d.action, "reason": d.reason,
                           "message": d.message} for d in decisions]}


def tenant_share(*, tenant: Tenant, user) -> list[dict]:
    """Per cluster: owned, used, borrowed, lent out, reserved, pending by reason, and who borrows."""
    result = []
    node = snap.node_id(tenant.pk)
    for record in EngineSnapshot.objects.select_related("cluster").exclude(config=None):
        config = snap.config_from_json(record.config)
        if node not in {n.id for n in config.nodes}:
            continue
        state = snap.state_from_json(record.state)
        status = explain.tenant_status(config, state, node)
        borrowers = explain.who_is_borrowing_from(config, state, node)
        result.append({"cluster": record.cluster.name, "config_version": record.config_version, **status,
                       "node": tenant.full_slug,
                       "borrowed_by": {_name(n, user): v for n, v in sorted(borrowers.items())}})
    return result


def _name(node: str, user) -> str:
    """A node id as a tenant path the user may see; other tenants stay anonymous."""
    if not node or node == snap.ROOT:
        return node and "the cluster"
    pk = node.split("#", 1)[0].lstrip("t")
    tenant = Tenant.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    if tenant is None or not access_for(user).can_see(tenant):
        return "another tenant"
    return tenant.full_slug
