"""The catalog API: repositories, categories, apps, versions (review actions) and uploads."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from appstore import selectors
from appstore.filtersets import AppFilterSet, RepositoryFilterSet, VersionFilterSet
from appstore.models import App, AppVersion, Category
from appstore.services import repositories as repository_services
from appstore.services import review, uploads
from bluedock_portal.api.pagination import PortalCursorPagination
from bluedock_portal.errors import InvalidInput
from tenants import selectors as tenant_selectors
from tenants.api.serializers import OperationSerializer
from tenants.models import Tenant

from . import serializers as s

IDEMPOTENCY_KEY_MAX = 128


class ByName(PortalCursorPagination):
    ordering = ("name", "id")


def _tenant(user, pk, *, field: str) -> Tenant:
    """A tenant id the user sent; unknown and invisible tenants get the same answer (no leak)."""
    try:
        return tenant_selectors.tenant_get(user=user, pk=pk)
    except Tenant.DoesNotExist:
        raise ValidationError({field: [f"Tenant {pk} does not exist."]}) from None


class CatalogViewSet(viewsets.GenericViewSet):
    """Catalog rows are narrowed by a selector for the requesting user; outside it is 404."""

    selector = None

    def get_queryset(self):
        return type(self).selector(user=self.request.user)


class RepositoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    """Chart repositories: global ones for all, tenant ones for the owner's subtree."""

    selector = staticmethod(selectors.repository_list)
    serializer_class = s.RepositorySerializer
    filterset_class = RepositoryFilterSet
    pagination_class = ByName

    @extend_schema(request=s.RepositoryCreateSerializer, responses={201: s.RepositorySerializer})
    def create(self, request):
        data = s.RepositoryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        tenant_id = fields.pop("tenant")
        tenant = _tenant(request.user, tenant_id, field="tenant") if tenant_id else None
        repository = repository_services.repository_create(actor=request.user, tenant=tenant, **fields)
        return Response(s.RepositorySerializer(repository).data, status=201)

    @extend_schema(request=None, responses={202: OperationSerializer}, parameters=[
        OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)])
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def sync(self, request, pk=None):
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValidationError({"Idempotency-Key": [f"At most {IDEMPOTENCY_KEY_MAX} characters."]})
        operation, _ = repository_services.repository_sync_request(repository=self.get_object(), actor=request.user,
                                                                   idempotency_key=key)
        return Response(OperationSerializer(operation).data, status=202)


class CategoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Category.objects.all()
    serializer_class = s.CategorySerializer
    pagination_class = None


class AppViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    """The store: apps the caller may see. Filters: q, category, tenant, repository, deprecated."""

    selector = staticmethod(selectors.app_list)
    serializer_class = s.AppSerializer
    filterset_class = AppFilterSet
    pagination_class = ByName

    @extend_schema(responses=s.AppVersionBriefSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def versions(self, request, pk=None):
        versions = selectors.app_versions(app=self.get_object(), user=request.user)
        return Response(s.AppVersionBriefSerializer(versions, many=True).data)

    @extend_schema(request=s.CommentSerializer, responses=s.AppSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def suspend(self, request, pk=None):
        return self._set_state(request, App.State.SUSPENDED)

    @extend_schema(request=s.CommentSerializer, responses=s.AppSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def activate(self, request, pk=None):
        return self._set_state(request, App.State.ACTIVE)

    def _set_state(self, request, state):
        data = s.CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        app = review.app_set_state(app=self.get_object(), actor=request.user, state=state,
                                   comment=data.validated_data["comment"])
        return Response(s.AppSerializer(selectors.app_list(user=request.user).get(pk=app.pk)).data)


class VersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    """App versions and their review workflow (submit → approve/reject → publish; suspend, deprecate)."""

    selector = staticmethod(selectors.version_list)
    serializer_class = s.AppVersionSerializer
    filterset_class = VersionFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("app")

    def _act(self, request, service, serializer=s.CommentSerializer, **extra):
        data = serializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = service(version=self.get_object(), actor=request.user, **data.validated_data, **extra)
        return Response(s.AppVersionSerializer(version).data)

    @extend_schema(request=s.CommentSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def submit(self, request, pk=None):
        return self._act(request, review.version_submit)

    @extend_schema(request=s.CommentSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def approve(self, request, pk=None):
        return self._act(request, review.version_approve)

    @extend_schema(request=s.CommentSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def reject(self, request, pk=None):
        return self._act(request, review.version_reject)

    @extend_schema(request=None, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def publish(self, request, pk=None):
        version = review.version_publish(version=self.get_object(), actor=request.user)
        return Response(s.AppVersionSerializer(version).data)

    @extend_schema(request=s.CommentSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def suspend(self, request, pk=None):
        return self._act(request, review.version_set_status, status=AppVersion.Status.SUSPENDED)

    @extend_schema(request=s.CommentSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def activate(self, request, pk=None):
        return self._act(request, review.version_set_status, status=AppVersion.Status.ACTIVE)

    @extend_schema(request=s.DeprecateSerializer, responses=s.AppVersionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def deprecate(self, request, pk=None):
        return self._act(request, review.version_deprecate, serializer=s.DeprecateSerializer)


class UploadView(APIView):
    """Upload a chart .tgz for a tenant: 201 with the draft version and its validation report, or 400."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": s.UploadSerializer}, responses={201: s.AppVersionSerializer})
    def post(self, request):
        data = s.UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = _tenant(request.user, data.validated_data["tenant"], field="tenant")
        chart = data.validated_data["chart"]
        limit = settings.APPSTORE_MAX_CHART_BYTES
        if chart.size > limit:  # refuse before reading it into memory
            raise InvalidInput(f"the archive is {chart.size} bytes; the limit is {limit} bytes",
                               code="chart_too_large", size=chart.size, limit=limit)
        version = uploads.chart_upload(tenant=tenant, data=chart.read(), actor=request.user)
        return Response(s.AppVersionSerializer(version).data, status=201)



