"""Base API classes. Tenant scoping happens here, once, for every endpoint."""

from __future__ import annotations

from rest_framework import mixins, viewsets


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Every queryset is narrowed to what the requesting user may see.

    Objects outside it answer 404, not 403, so their existence is not revealed.
    """

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


class TenantScopedReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    pass
