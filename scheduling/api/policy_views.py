"""The scheduling policy API: a tenant's policy, and the cluster-wide settings.

Reads: a tenant's policy by whoever may see the tenant (members of it or of an ancestor with
inherited roles; others get 404); the settings by anyone signed in. Changes: operators only
(403 for everyone else), see ``scheduling.policy`` for why.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling.engine.model import BORROW_PREEMPT_POLICIES, PREFERENCES, QUEUEINGS, RECLAIM_POLICIES, WITHIN_POLICIES
from tenants.models import Tenant

from .. import policy, policy_input, selectors
from ..policy_config import policy_as_dict, settings_as_dict
from .strict import BAD_QUERY, NOT_VISIBLE, TENANT_ID, KnownQueryParams, visible_tenant

SECONDS_OR_NULL = {"min_value": 0, "allow_null": True}
CHANGE_PROBLEMS = {400: OpenApiResponse(description="invalid, invalid_integer, policy_conflict, …: a field, the "
                                                    "result or a query parameter is refused; nothing is saved"),
                   403: OpenApiResponse(description="permission_denied: operators only")}


class BorrowPreemptSerializer(serializers.Serializer):
    policy = serializers.ChoiceField(choices=BORROW_PREEMPT_POLICIES, required=False,
                                     help_text="May a borrowing request preempt lower-priority borrowers elsewhere.")
    max_priority_threshold = serializers.IntegerField(required=False, allow_null=True,
                                                      help_text="Victims have at most this priority; null: any lower.")


class TenantSchedulingPolicySerializer(serializers.Serializer):
    tenant = serializers.IntegerField(read_only=True)
    tenant_path = serializers.CharField(read_only=True)
    is_default = serializers.BooleanField(read_only=True, help_text="No policy was set: the engine's defaults.")
    weight = serializers.CharField(help_text="Rational ≥ 0 (\"3/2\" or \"1.5\"): share of idle capacity among "
                                             "borrowing siblings.")
    share_tier = serializers.IntegerField(help_text="Siblings in a higher tier are offered idle capacity first.")
    reclaim_policy = serializers.ChoiceField(choices=RECLAIM_POLICIES)
    within_policy = serializers.ChoiceField(choices=WITHIN_POLICIES)
    borrow_preempt = BorrowPreemptSerializer()
    fence = serializers.BooleanField()
    lendout_grace = serializers.IntegerField(**SECONDS_OR_NULL, help_text="Seconds; null: no bound.")
    reclaim_delay = serializers.IntegerField(min_value=0)
    fairshare_delay = serializers.IntegerField(min_value=0)
    min_runtime_fairshare = serializers.IntegerField(**SECONDS_OR_NULL, help_text="Seconds; null: inherited.")
    queueing = serializers.ChoiceField(choices=QUEUEINGS)
    quota_preemption_delay = serializers.IntegerField(min_value=0, help_text="Seconds; 0: never.")
    required_checks = serializers.ListField(child=serializers.CharField(), help_text="Scheduling gate names.")
    effective_required_checks = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="This tenant's and its ancestors' required checks.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class SchedulingSettingsSerializer(serializers.Serializer):
    is_default = serializers.BooleanField(read_only=True, help_text="No settings were saved: the engine's defaults.")
    fair_share_preemption = serializers.BooleanField()
    fs_strategies = serializers.ListField(child=serializers.ChoiceField(choices=policy_input.STRATEGIES))
    fs_epsilon = serializers.CharField(help_text="Rational in [0, 1): hysteresis of fair-share preemption.")
    fs_budget = serializers.CharField(allow_null=True, help_text="Rational in (0, 1], or null for no budget.")
    fs_budget_window = serializers.IntegerField(min_value=1)
    release_slack = serializers.IntegerField(min_value=0)
    borrowing_preference = serializers.ChoiceField(choices=PREFERENCES)
    preempted_priority_boost = serializers.IntegerField(min_value=0)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


def _policy_data(tenant: Tenant) -> dict:
    row = policy.tenant_policy_get(tenant=tenant)
    return TenantSchedulingPolicySerializer({
        "tenant": tenant.pk, "tenant_path": tenant.full_slug, "is_default": row.pk is None, **policy_as_dict(row),
        "effective_required_checks": selectors.tenant_required_checks(tenant=tenant),
        "updated_at": row.updated_at}).data


def _settings_data(row) -> dict:
    return SchedulingSettingsSerializer({"is_default": row.pk is None, **settings_as_dict(row),
                                         "updated_at": row.updated_at}).data


class TenantSchedulingPolicyView(KnownQueryParams, APIView):
    @extend_schema(parameters=[TENANT_ID], responses={200: TenantSchedulingPolicySerializer, **BAD_QUERY,
                                                      **NOT_VISIBLE})
    def get(self, request, pk: str):
        """How the scheduling engine treats this tenant's subtree (weights, preemption, queueing, checks)."""
        tenant = visible_tenant(request.user, pk)
        self.check_query_params(request)
        return Response(_policy_data(tenant))

    @extend_schema(parameters=[TENANT_ID], request=TenantSchedulingPolicySerializer,
                   responses={200: TenantSchedulingPolicySerializer, **CHANGE_PROBLEMS, **NOT_VISIBLE})
    def patch(self, request, pk: str):
        """Change some fields (operators only); refused whole when any field or the result is invalid."""
        tenant = visible_tenant(request.user, pk)
        policy.require_operator(request.user, "change a tenant's scheduling policy")  # before judging the body
        self.check_query_params(request)
        policy.tenant_policy_update(tenant=tenant, changes=policy_input.parse_policy_body(request.data),
                                    actor=request.user)
        return Response(_policy_data(tenant))


class SchedulingSettingsView(KnownQueryParams, APIView):
    @extend_schema(responses={200: SchedulingSettingsSerializer, **BAD_QUERY})
    def get(self, request):
        """The engine's cluster-wide settings (fair-share preemption, budget, slack, borrowing preference)."""
        self.check_query_params(request)
        return Response(_settings_data(policy.scheduling_settings_get()))

    @extend_schema(request=SchedulingSettingsSerializer, responses={200: SchedulingSettingsSerializer,
                                                                    **CHANGE_PROBLEMS})
    def patch(self, request):
        """Change some settings (operators only); refused whole when any field or the result is invalid."""
        policy.require_operator(request.user, "change the scheduling settings")
        self.check_query_params(request)
        row = policy.scheduling_settings_update(changes=policy_input.parse_settings_body(request.data),
                                                actor=request.user)
        return Response(_settings_data(row))
