from __future__ import annotations

from rest_framework import serializers

from appstore.models import Release, ReleaseRevision
from appstore.models.releases import RELEASE_NAME

MAX_VALUES_KEYS = 500


def _values(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Values must be a JSON object (the chart's values.yaml overrides).")
    return value


class ReleaseSerializer(serializers.ModelSerializer):
    namespace_name = serializers.CharField(source="namespace.name", read_only=True)
    app_name = serializers.CharField(source="app.name", read_only=True)
    version = serializers.CharField(source="current_version.version", read_only=True)

    class Meta:
        model = Release
        fields = ["id", "tenant", "namespace", "namespace_name", "name", "app", "app_name", "current_version",
                  "version", "user_values", "status", "current_revision", "locked_by", "created_at", "updated_at"]
        read_only_fields = fields


class ReleaseRevisionSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="app_version.version", read_only=True)
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

    class Meta:
        model = ReleaseRevision
        fields = ["revision", "kind", "status", "description", "app_version", "version", "user_values",
                  "manifest_digest", "manifest", "operation", "actor", "started_at", "finished_at"]
        read_only_fields = fields


class ReleaseCreateSerializer(serializers.Serializer):
    namespace = serializers.IntegerField(min_value=1, help_text="A namespace of your tenant.")
    name = serializers.CharField(max_length=53, validators=[RELEASE_NAME], help_text="DNS-1123 label, ≤ 53.")
    app_version = serializers.IntegerField(min_value=1, help_text="A published, active version's id.")
    values = serializers.JSONField(required=False, default=dict, validators=[_values],
                                   help_text="Overrides of the chart's values.yaml (only what you change).")


class ReleaseUpgradeSerializer(serializers.Serializer):
    app_version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                           help_text="Target version; empty keeps the current one.")
    values = serializers.JSONField(required=False, allow_null=True, default=None, validators=[_values],
                                   help_text="The new overrides; omit to keep the current ones.")


class ReleaseRollbackSerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=0, default=0, help_text="0 = the previous revision.")


class ValuesChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON pointer.")
    op = serializers.ChoiceField(choices=["added", "removed", "changed"])
    to = serializers.JSONField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.JSONField(required=False)
        return fields


class ReleaseDiffSerializer(serializers.Serializer):
    from_revision = serializers.IntegerField(allow_null=True)
    from_version = serializers.CharField()
    to_version = serializers.CharField()
    to_revision = serializers.IntegerField(allow_null=True)
    values = ValuesChangeSerializer(many=True, help_text="Changes of the user's overrides.")
    effective_values = ValuesChangeSerializer(many=True, help_text="Changes of the merged values (with defaults).")
    manifest = serializers.CharField(help_text="Unified diff of the applied manifests.")


class ReleaseDiffQuerySerializer(serializers.Serializer):
    to_version = serializers.IntegerField(min_value=1, required=False)
    values = serializers.JSONField(required=False, binary=True, validators=[_values],
                                   help_text="A JSON object of overrides (URL-encoded).")
    revision = serializers.IntegerField(min_value=0, required=False, help_text="Diff a rollback to this revision.")
