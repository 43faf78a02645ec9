from __future__ import annotations

from rest_framework import serializers

from appstore.models import Release, ReleaseRevision
from appstore.models.releases import RELEASE_NAME
from appstore.releases import redact
from tenants.access import access_for
from tenants.models import Role

MAX_VALUES_KEYS = 500


def _values(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Values must be a JSON object (the chart's values.yaml overrides).")
    return value


def below_member(user, release: Release) -> bool:
    """Whether ``user`` sees the release only as a viewer: values and Secret data are then redacted."""
    return not access_for(user).has_role(release.tenant, Role.MEMBER)


class ReleaseSerializer(serializers.ModelSerializer):
    namespace_name = serializers.CharField(source="namespace.name", read_only=True)
    app_name = serializers.CharField(source="app.name", read_only=True)
    version = serializers.CharField(source="current_version.version", read_only=True)

    class Meta:
        model = Release
        fields = ["id", "tenant", "namespace", "namespace_name", "name", "app", "app_name", "current_version",
                  "version", "user_values", "status", "current_revision", "locked_by", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or below_member(request.user, instance):
            data["user_values"] = redact.values(data["user_values"])
        return data


class ReleaseRevisionSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="app_version.version", read_only=True)
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

    class Meta:
        model = ReleaseRevision
        fields = ["revision", "kind", "status", "description", "app_version", "version", "user_values",
                  "manifest_digest", "manifest", "operation", "actor", "started_at", "finished_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        """With ``context={"redacted": True}`` (a viewer): values and the data of Secrets are hidden."""
        data = super().to_representation(instance)
        if self.context.get("redacted", True):
            data["user_values"] = redact.values(data["user_values"])
            data["manifest"] = redact.manifest(data["manifest"])
        return data


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


class ResourceRowSerializer(serializers.Serializer):
    api_version = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField(help_text="e.g. ready, progressing, waiting for admission, missing, unknown.")
    detail = serializers.CharField(help_text="e.g. '1/2 ready', 'ClusterIP 10.96.0.10 80/TCP'.")
    healthy = serializers.BooleanField(allow_null=True)
    owner = serializers.CharField(help_text="For pods: the declared workload that runs them.")


class ResourcesReportSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False when the cluster could not be read; see note.")
    note = serializers.CharField()
    revision = serializers.IntegerField(allow_null=True, help_text="The revision whose objects are listed.")
    rows = ResourceRowSerializer(many=True)


class EventRowSerializer(serializers.Serializer):
    time = serializers.CharField()
    type = serializers.CharField(help_text="Normal or Warning.")
    reason = serializers.CharField()
    object = serializers.CharField(help_text="Kind/name of the object the event is about.")
    message = serializers.CharField()
    count = serializers.IntegerField()
    source = serializers.CharField()


class LogLineSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    operation = serializers.IntegerField(allow_null=True)
    level = serializers.ChoiceField(choices=["info", "error"])
    text = serializers.CharField()


class EventsReportSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False when the cluster could not be read; see note.")
    note = serializers.CharField()
    events = EventRowSerializer(many=True, help_text="Kubernetes Events about the release's objects, newest first.")
    log = LogLineSerializer(many=True, help_text="The release's own operations, oldest first.")


class ReleaseRecoverSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="Why the operation is recovered (required; goes to the audit trail).")
