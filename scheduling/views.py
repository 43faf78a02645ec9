"""The tenant's scheduling page: its share bar per cluster, its scheduling policy (read-only) and every
waiting pod's one-line reason."""

from __future__ import annotations

from django.views.generic import TemplateView

from tenants.views import TenantScopedMixin

from . import selectors
from .policy import tenant_policy_get
from .units import amount_text, amounts_text

WAITING_SHOWN = 500  # waiting pods listed on the page; the API pages through all of them


class TenantSchedulingView(TenantScopedMixin, TemplateView):
    template_name = "scheduling/tenant.html"

    def get_context_data(self, **kwargs):
        user, tenant = self.request.user, self.tenant
        policy = tenant_policy_get(tenant=tenant)
        listed = selectors.waiting_reasons(user=user, tenant=tenant, limit=WAITING_SHOWN)
        # Counted only when the list is cut: the page then says so, rather than look complete.
        total = (selectors.waiting_list(user=user, tenant=tenant).count() if len(listed) == WAITING_SHOWN
                 else len(listed))
        # A rejected pod does not wait: it never runs as it is asked (the reason says what to change),
        # so it is listed apart, and the share's "Waiting" counts do not include it either.
        waiting = [r for r in listed if r["state"] != "Rejected"]
        rejected = [r for r in listed if r["state"] == "Rejected"]
        return {**super().get_context_data(**kwargs), "shares": [_bars(s) for s in
                                                                  selectors.tenant_share(tenant=tenant, user=user)],
                "waiting": waiting, "rejected": rejected, "listed": len(listed), "listed_total": total,
                "policy_is_default": policy.pk is None,
                "policy": _policy_rows(policy, selectors.tenant_required_checks(tenant=tenant))}


def _seconds(value: int | None, none: str) -> str:
    return none if value is None else f"{value} s"


def _policy_rows(p, checks: list[str]) -> list[tuple[str, str, str]]:
    """(field, value, what it means) for the page; the operators' docs explain each in full."""
    threshold = p.borrow_preempt_max_priority_threshold
    borrow = p.borrow_preempt_policy + (f" (victims' priority ≤ {threshold})" if threshold is not None else "")
    return [
        ("Weight", p.weight, "share of idle capacity among borrowing siblings"),
        ("Share tier", str(p.share_tier), "higher tiers are offered idle capacity first"),
        ("Reclaim", p.reclaim_policy, "which pods may be evicted to give back this tenant's owned share"),
        ("Within the tenant", p.within_policy, "which of its own pods a higher-priority pod may preempt"),
        ("Borrow-preemption", borrow, "may its borrowing pods preempt lower-priority borrowers elsewhere"),
        ("Fence", "yes" if p.fence else "no", "fair-share preemption from inside stays inside the subtree"),
        ("Lend-out grace", _seconds(p.lendout_grace, "none"), "longest wait to get lent capacity back"),
        ("Reclaim delay", _seconds(p.reclaim_delay, ""), "pending time before reclaiming owned capacity"),
        ("Fair-share delay", _seconds(p.fairshare_delay, ""), "pending time before fair-share preemption"),
        ("Minimum runtime", _seconds(p.min_runtime_fairshare, "inherited"),
         "younger pods are not fair-share victims"),
        ("Queueing", p.queueing, "StrictFIFO: a waiting pod blocks the ones behind it"),
        ("Quota preemption delay", "never" if not p.quota_preemption_delay else f"{p.quota_preemption_delay} s",
         "time over the limit before evicting down to it"),
        ("Required admission checks", ", ".join(checks) or "none", "gates every release pod carries (inherited)"),
    ]


def _bars(share: dict) -> dict:
    """Per resource, as percentages of the bar (owned + borrowed or used, whichever is larger):
    used within owned from the left, then the owned capacity lent to other tenants (it is idle
    owned capacity, so it fits before the owned marker), and borrowed beyond the marker. Borrowed
    can exceed used − owned — a parent whose idle child may not lend (lend limit 0) borrows for a
    busy one although the two together use less than they own — so the bar makes room for all of
    it rather than clip it. The numbers read in display units (cores, GiB: units.py); the share
    itself stays in the engine's (the API's)."""
    rows = []
    for resource, owned in share["owned"].items():
        used, borrowed, lent = share["used"][resource], share["borrowed"][resource], share["lent_out"][resource]
        scale = max(owned + borrowed, used, 1)
        within = min(used, owned)
        numbers = {"owned": owned, "used": used, "borrowed": borrowed, "lent": lent,
                   "entitlement": share["entitlement"][resource]}
        rows.append({"resource": resource, **{k: amount_text(resource, v) for k, v in numbers.items()},
                     "used_pct": round(100 * within / scale),
                     "lent_pct": round(100 * min(lent, owned - within) / scale),
                     "borrowed_pct": round(100 * borrowed / scale), "owned_pct": round(100 * owned / scale)})
    borrowers = {who: amounts_text(amounts) for who, amounts in share["borrowed_by"].items()}
    return {**share, "rows": rows, "borrowers": borrowers}
