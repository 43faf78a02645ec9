from __future__ import annotations

from rest_framework import serializers

from appstore.models import App, AppVersion, Category, Repository

MAX_COMMENT = 2000


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "order"]


class RepositorySerializer(serializers.ModelSerializer):
    """Credentials are write-only: the API says whether there are some, never what they are."""

    has_credentials = serializers.BooleanField(read_only=True)

    class Meta:
        model = Repository
        fields = ["id", "name", "kind", "url", "oci_repositories", "scope", "tenant", "username", "has_credentials",
                  "plain_http", "sync_interval", "last_synced_at", "sync_status", "sync_message", "verified",
                  "created_at"]
        read_only_fields = fields


class RepositoryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=[Repository.Kind.HELM_HTTP, Repository.Kind.OCI])
    url = serializers.CharField(max_length=500)
    tenant = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None,
                                      help_text="Owner tenant (its subtree sees the repository); empty = global.")
    oci_repositories = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                             max_length=200, default=list)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                     write_only=True, style={"input_type": "password"})
    ca_bundle = serializers.CharField(max_length=65536, required=False, allow_blank=True, default="")
    plain_http = serializers.BooleanField(required=False, default=False)
    sync_interval = serializers.IntegerField(required=False, min_value=0, max_value=7 * 86400, default=3600)


class AppVersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppVersion
        fields = ["id", "version", "app_version", "prerelease", "review_state", "status", "deprecated",
                  "crds_present", "cluster_scoped_kinds", "created_at", "published_at"]
        read_only_fields = fields


class AppSerializer(serializers.ModelSerializer):
    categories = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    latest_version = AppVersionBriefSerializer(read_only=True)
    repository_name = serializers.CharField(source="repository.name", read_only=True)

    class Meta:
        model = App
        fields = ["id", "name", "display_name", "summary", "icon", "home", "keywords", "sources", "maintainers",
                  "categories", "repository", "repository_name", "tenant", "state", "deprecated", "latest_version",
                  "created_at", "updated_at"]
        read_only_fields = fields


class AppVersionSerializer(serializers.ModelSerializer):
    app_name = serializers.CharField(source="app.name", read_only=True)
    needs_operator_approval = serializers.BooleanField(read_only=True)
    installable = serializers.BooleanField(read_only=True)

    class Meta:
        model = AppVersion
        fields = ["id", "app", "app_name", "version", "app_version", "prerelease", "description", "digest",
                  "chart_api_version", "kube_version", "dependencies", "annotations", "values_yaml", "values_schema",
                  "readme", "images", "crds_present", "cluster_scoped_kinds", "needs_operator_approval",
                  "validation_report", "review_state", "status", "deprecated", "installable", "review_comment",
                  "source_url", "created_at", "published_at"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    chart = serializers.FileField(help_text="The chart .tgz made by `helm package`.")
    tenant = serializers.IntegerField(min_value=1, help_text="The publishing tenant's id.")


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class DeprecateSerializer(serializers.Serializer):
    deprecated = serializers.BooleanField(default=True)
