from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from bluedock_portal.api.viewsets import TenantScopedViewSet
from tenants import selectors as tenant_selectors
from tenants.models import Tenant

from .. import selectors
from ..models import SchedulingRequest


class SchedulingRequestSerializer(serializers.ModelSerializer):
    tenant_path = serializers.CharField(source="tenant.full_slug", read_only=True)

    class Meta:
        model = SchedulingRequest
        fields = ["id", "key", "tenant", "tenant_path", "namespace", "name", "demand", "state", "reason", "message",
                  "share", "updated_at"]
        read_only_fields = fields


class SchedulingRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Pods (or gangs) waiting for or holding admission, each with the engine's one-line reason."""

    queryset = SchedulingRequest.objects.select_related("tenant")
    serializer_class = SchedulingRequestSerializer
    filterset_fields = ["tenant", "state", "reason", "namespace"]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], pagination_class=None)
    def why(self, request, pk=None):
        return Response(selectors.request_why(request=self.get_object(), user=request.user))


class TenantShareView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        """Owned, used, borrowed, lent out, reserved and pending by reason, per cluster; who borrows from it."""
        try:
            tenant = tenant_selectors.tenant_get(user=request.user, pk=pk)
        except Tenant.DoesNotExist:
            raise Http404 from None
        return Response({"tenant": tenant.pk, "clusters": selectors.tenant_share(tenant=tenant, user=request.user)})
