"""The releases API: install (202 + Operation), upgrade, rollback, uninstall, history, diff, live
resources and events, retry and recovery.

Reads need visibility of the release's tenant; changes need the member role on it (the
services check); anything outside the caller's tenants answers 404. Install, upgrade, rollback
and uninstall honour ``Idempotency-Key`` (appstore.services.release_idempotency). ``quota_exceeded`` and
``release_locked`` are 409 problems: the request is valid, the current state refuses it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from appstore import selectors
from appstore.filtersets import ReleaseFilterSet
from appstore.models import AppVersion, Release
from appstore.services import release_recovery, release_state, releases
from appstore.services.release_idempotency import key_check
from bluedock_portal.api.viewsets import TenantScopedViewSet
from bluedock_portal.errors import NotFound
from tenants.api.serializers import OperationSerializer
from tenants.models import Namespace

from . import release_serializers as s

ACCEPTED = {202: OperationSerializer}
PROBLEMS = {400: OpenApiResponse(description="invalid, schema_invalid, render_failed, reason_required, values_invalid, "
                                             "reserved_kind, reserved_name, rbac_escalation, unsupported_workload, "
                                             "invalid_object, invalid_replicas, invalid_quantity"),
            403: OpenApiResponse(description="permission_denied, role_required, policy_violation, "
                                             "rbac_requires_tenant_admin"),
            404: OpenApiResponse(description="not visible to you"),
            409: OpenApiResponse(description="quota_exceeded, release_locked, release_name_taken, release_not_failed, "
                                             "release_not_locked, operation_active, tenant_suspended, app_suspended"),
            422: OpenApiResponse(description="idempotency_key_reused: the key answered another request")}
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False,
                               description="Repeat a request safely: the same key and body answer the same "
                                           "Operation (1-128 printable ASCII characters).")


def _key(request) -> str:
    return key_check(request.headers.get("Idempotency-Key", ""))


def _version(user, pk: int | None, *, field: str = "app_version") -> AppVersion | None:
    if pk is None:
        return None
    version = selectors.version_list(user=user).filter(pk=pk).select_related("app").first()
    if version is None:
        raise ValidationError({field: [f"Version {pk} does not exist."]})
    return version


class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Releases of the tenants you can see. Filters: tenant (+subtree), namespace, status, app."""

    queryset = Release.objects.select_related("namespace", "app", "current_version", "tenant")
    serializer_class = s.ReleaseSerializer
    filterset_class = ReleaseFilterSet

    @extend_schema(request=s.ReleaseCreateSerializer, responses={**ACCEPTED, **PROBLEMS}, parameters=[IDEMPOTENCY])
    def create(self, request):
        data = s.ReleaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        namespace = (Namespace.objects.visible_to(request.user).select_related("tenant", "cluster")
                     .filter(pk=fields["namespace"]).first())
        if namespace is None:
            raise NotFound(f"Namespace {fields['namespace']} does not exist.")
        _, operation = releases.release_install(actor=request.user, namespace=namespace, name=fields["name"],
                                                app_version=_version(request.user, fields["app_version"]),
                                                values=fields["values"], idempotency_key=_key(request))
        return Response(OperationSerializer(operation).data, status=202)

    @extend_schema(request=None, responses={**ACCEPTED, **PROBLEMS}, summary="Uninstall", parameters=[IDEMPOTENCY])
    def destroy(self, request, pk=None):
        operation = releases.release_uninstall(actor=request.user, release=self.get_object(),
                                               idempotency_key=_key(request))
        return Response(OperationSerializer(operation).data, status=202)

    @extend_schema(request=s.ReleaseUpgradeSerializer, responses={**ACCEPTED, **PROBLEMS}, parameters=[IDEMPOTENCY])
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def upgrade(self, request, pk=None):
        release = self.get_object()
        data = s.ReleaseUpgradeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        operation = releases.release_upgrade(actor=request.user, release=release,
                                             app_version=_version(request.user, data.validated_data["app_version"]),
                                             values=data.validated_data["values"], idempotency_key=_key(request))
        return Response(OperationSerializer(operation).data, status=202)

    @extend_schema(request=s.ReleaseRollbackSerializer, responses={**ACCEPTED, **PROBLEMS}, parameters=[IDEMPOTENCY])
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def rollback(self, request, pk=None):
        release = self.get_object()
        data = s.ReleaseRollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        operation = releases.release_rollback(actor=request.user, release=release,
                                              revision=data.validated_data["revision"], idempotency_key=_key(request))
        return Response(OperationSerializer(operation).data, status=202)

    @extend_schema(request=None, responses={**ACCEPTED, **PROBLEMS},
                   summary="Run the failed last operation again (409 release_not_failed otherwise)")
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def retry(self, request, pk=None):
        operation = release_recovery.release_retry(actor=request.user, release=self.get_object())
        return Response(OperationSerializer(operation).data, status=202)

    @extend_schema(request=s.ReleaseRecoverSerializer, responses={200: s.ReleaseSerializer, **PROBLEMS},
                   summary="Tenant admins: fail a stuck operation with a reason and unlock the release (audited)")
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def recover(self, request, pk=None):
        release = self.get_object()
        data = s.ReleaseRecoverSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = release_recovery.release_recover(actor=request.user, release=release,
                                                   reason=data.validated_data["reason"])
        return Response(s.ReleaseSerializer(release, context={"request": request}).data)

    @extend_schema(responses=s.ResourcesReportSerializer, summary="The revision's objects with their live state")
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def resources(self, request, pk=None):
        return Response(s.ResourcesReportSerializer(release_state.release_resources(release=self.get_object())).data)

    @extend_schema(responses=s.EventsReportSerializer, summary="Kubernetes Events of the release's objects and its log")
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def events(self, request, pk=None):
        return Response(s.EventsReportSerializer(release_state.release_events(release=self.get_object())).data)

    @extend_schema(responses=s.ReleaseRevisionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def revisions(self, request, pk=None):
        release = self.get_object()
        revisions = release.revisions.select_related("app_version", "actor").order_by("-revision")
        return Response(s.ReleaseRevisionSerializer(
            revisions, many=True, context={"redacted": s.below_member(request.user, release)}).data)

    @extend_schema(responses={200: s.ReleaseDiffSerializer, **PROBLEMS}, parameters=[
        OpenApiParameter("to_version", int, description="Target version id (default: the current one)."),
        OpenApiParameter("values", str, description="JSON object of overrides (default: the current ones)."),
        OpenApiParameter("revision", int, description="Diff a rollback to this revision instead.")])
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def diff(self, request, pk=None):
        release = self.get_object()
        query = s.ReleaseDiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fields = query.validated_data
        result = releases.release_diff(release=release, app_version=_version(request.user, fields.get("to_version"),
                                                                             field="to_version"),
                                       values=fields.get("values"), revision=fields.get("revision"),
                                       redacted=s.below_member(request.user, release))
        return Response(s.ReleaseDiffSerializer(result).data)
