"""The self-service portal (server-rendered)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.views.generic import TemplateView

from . import selectors
from .access import access_for
from .models import Tenant
from .services.plans import quota_report


class TenantScopedView(LoginRequiredMixin, TemplateView):
    """Base for portal pages: tenants outside the user's reach are 404."""

    def get_tenant(self) -> Tenant:
        try:
            return selectors.tenant_get(user=self.request.user, pk=self.kwargs["pk"])
        except Tenant.DoesNotExist:
            raise Http404("No such tenant") from None


class TenantTreeView(LoginRequiredMixin, TemplateView):
    template_name = "tenants/tree.html"

    def get_context_data(self, **kwargs):
        access = access_for(self.request.user)
        tenants = list(selectors.tenant_list(user=self.request.user)[:2000])
        return {**super().get_context_data(**kwargs),
                "rows": [(t, access.role_on(t)) for t in tenants]}


class TenantDetailView(TenantScopedView):
    template_name = "tenants/detail.html"

    def get_context_data(self, **kwargs):
        tenant = self.get_tenant()
        return {**super().get_context_data(**kwargs), "tenant": tenant,
                "role": access_for(self.request.user).role_on(tenant),
                "ancestors": selectors.tenant_ancestors(tenant=tenant, user=self.request.user),
                "members": selectors.membership_effective_list(tenant=tenant),
                "quota": quota_report(tenant=tenant, user=self.request.user)}
