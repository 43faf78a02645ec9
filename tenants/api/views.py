from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from bluedock_portal.api.pagination import TreeOrderPagination
from bluedock_portal.api.viewsets import TenantScopedReadOnlyViewSet, TenantScopedViewSet
from bluedock_portal.errors import NotFound, PermissionDenied
from tenants import selectors
from tenants.access import access_for
from tenants.filtersets import AuditEventFilterSet, NamespaceFilterSet, OperationFilterSet, TenantFilterSet
from tenants.models import AuditEvent, Cluster, Membership, Namespace, Operation, Tenant
from tenants.services import clusters as cluster_services
from tenants.services import memberships as membership_services
from tenants.services import namespaces as namespace_services
from tenants.services import tenants as tenant_services
from tenants.services.plans import plan_update, quota_report

from . import serializers as s
from .quota_input import parse_quota_changes

QuotaSchema = inline_serializer("QuotaReport", {
    "tenant": serializers.IntegerField(),
    "model": serializers.CharField(),
    "resources": serializers.DictField(child=serializers.DictField()),
})
QuotaUpdateSchema = inline_serializer("QuotaUpdate", {
    "cpu": inline_serializer("PlanFields", {
        "owned": serializers.IntegerField(required=False, min_value=0),
        "limit": serializers.IntegerField(required=False, allow_null=True, min_value=0),
        "borrow_limit": serializers.IntegerField(required=False, allow_null=True, min_value=0),
        "lend_limit": serializers.IntegerField(required=False, allow_null=True, min_value=0),
    }, required=False),
    "memory": serializers.DictField(required=False),
    "pods": serializers.DictField(required=False),
    "gpu": serializers.DictField(required=False),
})


def _visible_tenant(user, pk, *, field: str | None = None) -> Tenant:
    """Resolve an id the user sent; unknown and invisible tenants look the same."""
    try:
        return selectors.tenant_get(user=user, pk=pk)
    except Tenant.DoesNotExist:
        if field:
            raise ValidationError({field: [f"Tenant {pk} does not exist."]}) from None
        raise NotFound(f"Tenant {pk} does not exist.") from None


class TenantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The tenant tree. Lists page in tree order; filters: parent, depth, state, q."""

    queryset = Tenant.objects.all()
    serializer_class = s.TenantSerializer
    filterset_class = TenantFilterSet
    pagination_class = TreeOrderPagination

    @extend_schema(request=s.TenantCreateSerializer, responses={201: s.TenantSerializer})
    def create(self, request):
        data = s.TenantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parent_id = data.validated_data["parent"]
        parent = _visible_tenant(request.user, parent_id, field="parent") if parent_id else None
        tenant = tenant_services.tenant_create(
            name=data.validated_data["name"], slug=data.validated_data["slug"], parent=parent, actor=request.user,
            description=data.validated_data["description"])
        return Response(s.TenantSerializer(tenant, context={"request": request}).data, status=201)

    @extend_schema(request=s.TenantUpdateSerializer, responses=s.TenantSerializer)
    def partial_update(self, request, pk=None):
        tenant = self.get_object()
        data = s.TenantUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_services.tenant_update(tenant=tenant, actor=request.user, **data.validated_data)
        return Response(s.TenantSerializer(tenant, context={"request": request}).data)

    def destroy(self, request, pk=None):
        tenant_services.tenant_delete(tenant=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.TenantSerializer(many=True))
    @action(detail=True, methods=["get"])
    def children(self, request, pk=None):
        tenant = self.get_object()
        qs = self.filter_queryset(self.get_queryset()).filter(parent=tenant)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses=s.TenantSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def ancestors(self, request, pk=None):
        tenant = self.get_object()
        ancestors = selectors.tenant_ancestors(tenant=tenant, user=request.user)
        return Response(self.get_serializer(ancestors, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("depth", int, description="Levels below this tenant (default all).")],
                   responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def tree(self, request, pk=None):
        tenant = self.get_object()
        raw_depth = request.query_params.get("depth")
        if raw_depth is not None and (not raw_depth.isdigit() or int(raw_depth) > 64):
            raise ValidationError({"depth": ["Expected a whole number of levels between 0 and 64."]})
        nodes = list(selectors.tenant_subtree(tenant=tenant, user=request.user,
                                              max_depth=int(raw_depth) if raw_depth else None))
        serialized = {n.pk: {**self.get_serializer(n).data, "children": []} for n in nodes}
        for n in nodes:
            if n.pk != tenant.pk and n.parent_id in serialized:
                serialized[n.parent_id]["children"].append(serialized[n.pk])
        return Response(serialized[tenant.pk])

    @extend_schema(methods=["GET"], responses=QuotaSchema)
    @extend_schema(methods=["PUT"], request=QuotaUpdateSchema, responses=QuotaSchema)
    @action(detail=True, methods=["get", "put"], pagination_class=None, filterset_class=None)
    def quota(self, request, pk=None):
        tenant = self.get_object()
        if request.method == "PUT":
            return Response(plan_update(tenant=tenant, changes=parse_quota_changes(request.data),
                                        actor=request.user))
        return Response(quota_report(tenant=tenant, user=request.user))

    @extend_schema(methods=["GET"], parameters=[OpenApiParameter("effective", bool)],
                   responses=s.EffectiveMembershipSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.MembershipCreateSerializer, responses={201: s.MembershipSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def members(self, request, pk=None):
        tenant = self.get_object()
        if request.method == "POST":
            data = s.MembershipCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            membership = membership_services.membership_create(
                tenant=tenant, actor=request.user, role=data.validated_data["role"],
                inherited=data.validated_data["inherited"], username=data.validated_data.get("user"),
                group_name=data.validated_data.get("group"))
            return Response(s.MembershipSerializer(membership).data, status=201)
        if request.query_params.get("effective") in {"true", "1"}:
            return Response(selectors.membership_effective_list(tenant=tenant))
        direct = Membership.objects.filter(tenant=tenant).select_related("user", "group")
        return Response(s.MembershipSerializer(direct, many=True).data)

    @extend_schema(request=s.StateChangeSerializer, responses=s.TenantSerializer)
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def suspend(self, request, pk=None):
        return self._set_state(request, Tenant.State.SUSPENDED)

    @extend_schema(request=s.StateChangeSerializer, responses=s.TenantSerializer)
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def resume(self, request, pk=None):
        return self._set_state(request, Tenant.State.ACTIVE)

    def _set_state(self, request, state):
        tenant = self.get_object()
        data = s.StateChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_services.tenant_set_state(tenant=tenant, state=state, actor=request.user,
                                                  reason=data.validated_data["reason"])
        return Response(s.TenantSerializer(tenant, context={"request": request}).data)


class MembershipViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = Membership.objects.select_related("tenant", "user", "group")
    serializer_class = s.MembershipSerializer

    @extend_schema(request=s.MembershipUpdateSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request, pk=None):
        membership = self.get_object()
        data = s.MembershipUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_services.membership_update(membership=membership, actor=request.user,
                                                           **data.validated_data)
        return Response(s.MembershipSerializer(membership).data)

    def destroy(self, request, pk=None):
        membership_services.membership_delete(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NamespaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = Namespace.objects.select_related("cluster")
    serializer_class = s.NamespaceSerializer
    filterset_class = NamespaceFilterSet

    @extend_schema(request=s.NamespaceCreateSerializer, responses={201: s.NamespaceSerializer})
    def create(self, request):
        data = s.NamespaceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = _visible_tenant(request.user, data.validated_data["tenant"], field="tenant")
        cluster = Cluster.objects.filter(pk=data.validated_data["cluster"]).first()
        if cluster is None:
            raise ValidationError({"cluster": [f"Cluster {data.validated_data['cluster']} does not exist."]})
        namespace = namespace_services.namespace_create(tenant=tenant, cluster=cluster,
                                                        name=data.validated_data["name"], actor=request.user)
        return Response(s.NamespaceSerializer(namespace).data, status=201)

    @extend_schema(parameters=[OpenApiParameter("confirm", str, required=True,
                                                description="The namespace's name, to confirm deletion.")],
                   responses={202: s.OperationSerializer})
    def destroy(self, request, pk=None):
        operation = namespace_services.namespace_delete(namespace=self.get_object(), actor=request.user,
                                                        confirm=request.query_params.get("confirm", ""))
        return Response(s.OperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.OperationSerializer})
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        """Make the cluster match the portal now; poll the returned Operation for progress."""
        operation = namespace_services.namespace_reconcile_request(
            namespace=self.get_object(), actor=request.user,
            idempotency_key=request.headers.get("Idempotency-Key", "")[:128])
        return Response(s.OperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=s.ManagedObjectSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def objects(self, request, pk=None):
        """The objects the portal manages in this namespace, with their sync state."""
        namespace = self.get_object()
        return Response(s.ManagedObjectSerializer(namespace.managed_objects.all(), many=True).data)


class ClusterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Clusters are platform objects: everyone signed in may list them, operators register them."""

    queryset = Cluster.objects.all()
    serializer_class = s.ClusterSerializer

    def get_queryset(self):
        return Cluster.objects.all()

    @extend_schema(responses=s.ClusterNodeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def nodes(self, request, pk=None):
        """Node inventory (capacity, allocatable, requested) — operators only."""
        if not access_for(request.user).is_operator:
            raise PermissionDenied("Only operators may see node inventory.")
        cluster = self.get_object()
        return Response(s.ClusterNodeSerializer(cluster.nodes.all(), many=True).data)

    @extend_schema(request=None, responses=s.ClusterSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def check(self, request, pk=None):
        """Check health and version now (operators)."""
        if not access_for(request.user).is_operator:
            raise PermissionDenied("Only operators may check clusters.")
        cluster = cluster_services.cluster_check_health(cluster=self.get_object())
        return Response(s.ClusterSerializer(cluster).data)

    @extend_schema(request=s.ClusterCreateSerializer, responses={201: s.ClusterSerializer})
    def create(self, request):
        data = s.ClusterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = cluster_services.cluster_create(actor=request.user, **data.validated_data)
        return Response(s.ClusterSerializer(cluster).data, status=201)


class AuditEventViewSet(TenantScopedReadOnlyViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet


class OperationViewSet(TenantScopedReadOnlyViewSet):
    queryset = Operation.objects.all()
    serializer_class = s.OperationSerializer
    filterset_class = OperationFilterSet


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        user = request.user
        access = access_for(user)
        tenants = Tenant.objects.visible_to(user)
        if access.is_operator:
            tenants = tenants.filter(depth=1)
        else:
            tenants = tenants.filter(Q(pk__in=[g.tenant_id for g in access.grants]))
        data = {
            "username": user.username, "email": user.email, "is_operator": access.is_operator,
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "tenants": [{"id": t.pk, "path": t.full_slug, "role": access.role_on(t)} for t in tenants],
            "oidc_enabled": settings.OIDC_ENABLED,
        }
        return Response(data)
