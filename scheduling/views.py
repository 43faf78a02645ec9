"""The tenant's scheduling page: its share bar per cluster and every waiting pod's one-line reason."""

from __future__ import annotations

from django.views.generic import TemplateView

from tenants.views import TenantScopedMixin

from . import selectors


class TenantSchedulingView(TenantScopedMixin, TemplateView):
    template_name = "scheduling/tenant.html"

    def get_context_data(self, **kwargs):
        user, tenant = self.request.user, self.tenant
        requests = selectors.waiting_list(user=user, tenant=tenant)[:500]
        return {**super().get_context_data(**kwargs), "shares": [_bars(s) for s in
                                                                  selectors.tenant_share(tenant=tenant, user=user)],
                "waiting": requests}


def _bars(share: dict) -> dict:
    """Per resource: used within owned, borrowed beyond it, and owned capacity lent out, as percentages."""
    rows = []
    for resource, owned in share["owned"].items():
        used, borrowed, lent = share["used"][resource], share["borrowed"][resource], share["lent_out"][resource]
        scale = max(owned, used, 1)
        rows.append({"resource": resource, "owned": owned, "used": used, "borrowed": borrowed, "lent": lent,
                     "used_pct": round(100 * min(used, owned) / scale), "borrowed_pct": round(100 * borrowed / scale),
                     "owned_pct": round(100 * owned / scale)})
    return {**share, "rows": rows}
