"""Operator endpoints for the Keystone mirror."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.services.keystone_sync import keystone_sync_request

from .serializers import OperationSerializer

IDEMPOTENCY_KEY_MAX = 128


class KeystoneSyncView(APIView):
    """Import Keystone's project tree now, instead of waiting for the periodic reconcile."""

    @extend_schema(
        request=None, responses={202: OperationSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description="Repeat a request safely: the same key returns the first "
                                                 "operation.")],
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValidationError({"Idempotency-Key": [f"At most {IDEMPOTENCY_KEY_MAX} characters."]})
        operation = keystone_sync_request(actor=request.user, idempotency_key=key)
        return Response(OperationSerializer(operation).data, status=202)
