from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from tenants.access import access_for
from tenants.models import (
    AuditEvent,
    Cluster,
    ClusterNode,
    ManagedObject,
    Membership,
    Namespace,
    Operation,
    Role,
    Tenant,
)
from tenants.models.tree import DNS_LABEL


class TenantSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(read_only=True)
    children_count = serializers.IntegerField(source="numchild", read_only=True)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "full_slug", "description", "parent", "depth", "state",
                  "keystone_project_id", "keystone_domain_id", "children_count", "my_role", "created_at",
                  "updated_at"]
        read_only_fields = fields

    def get_my_role(self, tenant) -> str | None:
        return access_for(self.context["request"].user).role_on(tenant)


class TenantCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.CharField(max_length=63, validators=[DNS_LABEL])
    parent = serializers.IntegerField(allow_null=True, min_value=1, max_value=2**63 - 1)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class TenantUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if "parent" in unknown:
            raise serializers.ValidationError(
                {"parent": ["A tenant's parent cannot change (Keystone's parent is immutable)."]},
                code="parent_immutable")
        if "slug" in unknown:
            raise serializers.ValidationError({"slug": ["A tenant's slug cannot change."]}, code="slug_immutable")
        if unknown:
            raise serializers.ValidationError({sorted(unknown)[0]: ["Unknown or read-only field."]})
        return attrs


class StateChangeSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    group = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "tenant", "user", "group", "role", "inherited", "source", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, max_length=150)
    group = serializers.CharField(required=False, max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    inherited = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if bool(attrs.get("user")) == bool(attrs.get("group")):
            raise serializers.ValidationError("Give exactly one of 'user' or 'group'.")
        return attrs


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    inherited = serializers.BooleanField(required=False)


class EffectiveMembershipSerializer(serializers.Serializer):
    membership = serializers.IntegerField()
    role = serializers.CharField()
    origin = serializers.ChoiceField(choices=["direct", "inherited"])
    inherited = serializers.BooleanField()
    source = serializers.CharField()
    from_tenant = serializers.DictField()
    subject = serializers.DictField()


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name", "api_url", "description", "is_active", "health", "health_message", "server_version",
                  "checked_at", "inventory_synced_at", "created_at"]
        read_only_fields = fields


class ClusterCreateSerializer(serializers.Serializer):
    """Credentials are write-only: a kubeconfig, or api_url + token (+ ca_cert), or a mounted file."""

    name = serializers.CharField(max_length=63, validators=[DNS_LABEL])
    api_url = serializers.URLField(max_length=400, required=False, allow_blank=True, default="")
    token = serializers.CharField(required=False, allow_blank=True, default="", max_length=8192, write_only=True)
    ca_cert = serializers.CharField(required=False, allow_blank=True, default="", max_length=65536, write_only=True)
    kubeconfig = serializers.CharField(required=False, allow_blank=True, default="", max_length=262144,
                                       write_only=True)
    insecure_skip_tls_verify = serializers.BooleanField(required=False, default=False)
    credentials_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ClusterNodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClusterNode
        fields = ["name", "capacity", "allocatable", "requested", "labels", "taints", "ready", "unschedulable",
                  "synced_at"]
        read_only_fields = fields


class ManagedObjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = ManagedObject
        fields = ["api_version", "kind", "name", "state", "message", "digest", "synced_at"]
        read_only_fields = fields


class NamespaceSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)

    class Meta:
        model = Namespace
        fields = ["id", "name", "tenant", "cluster", "cluster_name", "state", "sync_state", "sync_message",
                  "reconciled_at", "created_at"]
        read_only_fields = fields


class NamespaceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63, validators=[DNS_LABEL])
    tenant = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    cluster = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor_name", "action", "target_type", "target_id", "target_repr", "tenant",
                  "before", "after", "result", "reason", "request_id"]
        read_only_fields = fields


class OperationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operation
        fields = ["id", "type", "state", "progress", "message", "error_code", "error_message", "result", "tenant",
                  "target_type", "target_id", "attempts", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField()
    is_operator = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())
    tenants = serializers.ListField(child=serializers.DictField())
    oidc_enabled = serializers.SerializerMethodField()

    def get_oidc_enabled(self, _) -> bool:
        return settings.OIDC_ENABLED


User = get_user_model()
