from __future__ import annotations

from django.db.models import F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from bluedock_portal.api.viewsets import TenantScopedReadOnlyViewSet, TenantScopedViewSet

from .. import selectors
from ..filtersets import BindingFilterSet, SchedulingRequestFilterSet
from ..models import Binding, SchedulingRequest
from ..redact import Redactor
from .strict import BAD_QUERY, NOT_VISIBLE, TENANT_ID, KnownQueryParams, visible_tenant


def read_only_schema(serializer) -> dict:
    """Lists answer 400 for a bad filter, an object for any query parameter (strict.py)."""
    return {"list": extend_schema(responses={200: serializer(many=True), **BAD_QUERY}),
            "retrieve": extend_schema(responses={200: serializer, **BAD_QUERY, **NOT_VISIBLE})}


# The API's amounts are the engine's integers; pages and messages show them in display units (units.py).
BASE_UNITS = "millicores for cpu, MiB for memory, counts for pods and gpu"


def _names(serializer) -> Redactor:
    """One Redactor per response: it reads the tenants and namespaces once for the whole page."""
    return serializer.context.setdefault("redactor", Redactor(serializer.context["request"].user))


class SchedulingRequestSerializer(serializers.ModelSerializer):
    tenant_path = serializers.CharField(source="tenant.full_slug", read_only=True)
    message = serializers.SerializerMethodField(help_text="The engine's latest word on it, its amounts in cores "
                                                "and MiB or GiB (\"12 of owned 8 cpu\"); other tenants' workloads "
                                                "and tenants you may not see read \"another tenant\".")

    class Meta:
        model = SchedulingRequest
        fields = ["id", "key", "tenant", "tenant_path", "namespace", "name", "demand", "state", "reason", "message",
                  "notes", "share", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"demand": {"help_text": f"Per resource, what it asks for, in base units ({BASE_UNITS})."}}

    def get_message(self, obj) -> str:
        return _names(self).request_message(obj)


@extend_schema_view(**read_only_schema(SchedulingRequestSerializer))
class SchedulingRequestViewSet(KnownQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               TenantScopedViewSet):
    """Pods (or gangs) waiting for or holding admission, each with the engine's one-line reason."""

    queryset = SchedulingRequest.objects.select_related("tenant")
    serializer_class = SchedulingRequestSerializer
    filterset_class = SchedulingRequestFilterSet

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **BAD_QUERY, **NOT_VISIBLE})
    @action(detail=True, methods=["get"], pagination_class=None)
    def why(self, request, pk=None):
        """The engine's own account of the request, its latest message and its recent decisions."""
        return Response(selectors.request_why(request=self.get_object(), user=request.user))


def _amounts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(),
                                 help_text=f"{help_text} In base units ({BASE_UNITS}).")


class BorrowerSerializer(serializers.Serializer):
    tenant = serializers.CharField(help_text="Its path, or \"another tenant\" when you may not see it.")
    borrowed = _amounts("Per resource, what it holds of this tenant's idle owned capacity now (the rows add "
                        "up to lent_out).")
    lender_scope = serializers.ListField(child=serializers.CharField(), help_text="From its open borrowed bindings: "
                                         "the tenants whose pools lent (\"the cluster\" for the root).")
    bindings = serializers.IntegerField(help_text="How many of its open admissions are borrowed under those scopes.")


class ClusterShareSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    config_version = serializers.IntegerField()
    node = serializers.CharField(help_text="The tenant's path.")
    owned = _amounts("Per resource, the tenant's guaranteed share for its whole subtree (effective: scaled down "
                     "while the cluster has less capacity than planned).")
    used = _amounts("Per resource, what its subtree's admitted pods hold (terminating ones included).")
    borrowed = _amounts("Per resource, what its subtree uses beyond what it may count on (its balance below 0).")
    lent_out = _amounts("Per resource, what other tenants hold of its idle owned capacity, within its lend limit.")
    reserved = _amounts("Per resource, what its reserved pods (waiting for victims or admission checks) hold.")
    entitlement = _amounts("Per resource, its fair share (water-filling by owned share, share tier and weight) "
                           "of what the subtrees run and wait for; informational, decisions do not use it.")
    drs = serializers.CharField(help_text="Dominant resource share among borrowing siblings, an exact fraction "
                                          "(\"1/4\"); 0 when not borrowing.")
    pending_by_reason = serializers.DictField(child=serializers.IntegerField(),
                                              help_text="Waiting requests of its subtree by reason code.")
    borrowed_by = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()),
                                        help_text="lent_out by borrowing tenant; those you may not see add up "
                                                  f"under \"another tenant\". In base units ({BASE_UNITS}).")
    who_is_borrowing_from = BorrowerSerializer(many=True)


class TenantShareSerializer(serializers.Serializer):
    tenant = serializers.IntegerField()
    clusters = ClusterShareSerializer(many=True)


class TenantShareView(KnownQueryParams, APIView):
    @extend_schema(parameters=[TENANT_ID], responses={200: TenantShareSerializer, **BAD_QUERY, **NOT_VISIBLE})
    def get(self, request, pk: str):
        """Owned, used, borrowed, lent out, reserved, entitlement and pending by reason, per cluster; who
        borrows from it."""
        tenant = visible_tenant(request.user, pk)
        self.check_query_params(request)
        clusters = selectors.tenant_share(tenant=tenant, user=request.user)
        return Response(TenantShareSerializer({"tenant": tenant.pk, "clusters": clusters}).data)


class BindingSerializer(serializers.ModelSerializer):
    tenant_path = serializers.CharField(source="tenant.full_slug", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    lender_scope = serializers.SerializerMethodField(help_text="The tenant path whose pool lent (\"the cluster\" for "
                                                     "the root); \"another tenant\" when you may not see it.")
    closed_by = serializers.SerializerMethodField(help_text="On an open row: the id of the row that ended it.")

    class Meta:
        model = Binding
        fields = ["id", "event", "cluster", "cluster_name", "tenant", "tenant_path", "request", "namespace", "pods",
                  "share", "lender_scope", "demand", "borrowed", "reason", "opened", "closed_by", "pass_seq",
                  "config_version", "at"]
        read_only_fields = fields
        extra_kwargs = {"demand": {"help_text": f"Per resource, what the admission holds, in base units "
                                                f"({BASE_UNITS})."},
                        "borrowed": {"help_text": f"Per resource, the part of demand borrowed under the lender scope, "
                                                  f"in base units ({BASE_UNITS})."}}

    def get_lender_scope(self, obj) -> str:
        return _names(self).node(obj.lender_scope)

    def get_closed_by(self, obj) -> int | None:
        return getattr(obj, "closed_by_id", None)


@extend_schema_view(**read_only_schema(BindingSerializer))
class BindingViewSet(KnownQueryParams, TenantScopedReadOnlyViewSet):
    """Admissions' holds on shares, append-only: an ``open`` row per admission (owned, or borrowed
    under a lender scope, with the amounts) and a ``close`` row when it ended (finished, evicted, released)."""

    queryset = Binding.objects.select_related("tenant", "cluster").annotate(closed_by_id=F("closed_by__id"))
    serializer_class = BindingSerializer
    filterset_class = BindingFilterSet
