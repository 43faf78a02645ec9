"""The operators' console. State changes go through services, so audit and side effects happen."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from bluedock_portal.errors import ServiceError

from .models import (
    ApiToken,
    AuditEvent,
    Cluster,
    ClusterNode,
    ManagedObject,
    Membership,
    Namespace,
    NamespaceUsage,
    OidcIdentity,
    Operation,
    ResourcePlan,
    Tenant,
)
from .services import clusters as cluster_services
from .services import tenants as tenant_services
from .services.audit import audit_record


class ReadOnlyInline(admin.TabularInline):
    """Rows changed only through services (where they are validated and audited)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class PlanInline(ReadOnlyInline):
    model = ResourcePlan
    fields = ["resource", "owned", "limit", "borrow_limit", "lend_limit"]
    verbose_name_plural = "Resource plans (change them through the API or the portal, where they are validated)"


class MembershipInline(ReadOnlyInline):
    model = Membership
    fk_name = "tenant"
    fields = ["user", "group", "role", "inherited", "source"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["indented_name", "full_slug", "state", "depth", "numchild", "keystone_project_id"]
    list_filter = ["state", "depth"]
    search_fields = ["name", "slug", "full_slug", "keystone_project_id"]
    ordering = ["path"]
    readonly_fields = ["full_slug", "parent", "path", "depth", "numchild", "state", "keystone_project_id",
                       "keystone_domain_id", "keystone_synced_at", "created_at", "updated_at"]
    fields = ["name", "slug", "description", *readonly_fields]
    inlines = [PlanInline, MembershipInline]
    actions = ["suspend", "resume"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="Name", ordering="path")
    def indented_name(self, obj):
        return format_html('<span style="padding-left:{}em">{}</span>', (obj.depth - 1) * 1.5, obj.name)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        try:
            if change:
                tenant_services.tenant_update(tenant=obj, actor=request.user, name=obj.name,
                                              description=obj.description)
            else:
                created = tenant_services.tenant_create(name=obj.name, slug=obj.slug, parent=None,
                                                        actor=request.user, description=obj.description)
                obj.pk = created.pk
        except ServiceError as exc:
            self.message_user(request, exc.detail, messages.ERROR)

    def delete_model(self, request, obj):
        try:
            tenant_services.tenant_delete(tenant=obj, actor=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.detail, messages.ERROR)

    def get_actions(self, request):
        # Django's bulk "Delete selected" deletes the rows directly: no audit, no Keystone, no checks.
        # Tenants are deleted one at a time, through tenant_delete (delete_model above).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_queryset(self, request, queryset):
        # Nothing in the console offers a bulk delete any more; should anything call this, it goes
        # through the service too, leaves first.
        for path in sorted(queryset.values_list("path", flat=True), reverse=True):
            self.delete_model(request, Tenant.objects.get(path=path))  # fresh: numchild changes as leaves go

    def _set_state(self, request, queryset, state):
        for tenant in queryset:
            try:
                tenant_services.tenant_set_state(tenant=tenant, state=state, actor=request.user,
                                                 reason="admin console")
            except ServiceError as exc:
                self.message_user(request, f"{tenant}: {exc.detail}", messages.ERROR)

    @admin.action(description="Suspend selected tenants (blocks new work in their subtrees)")
    def suspend(self, request, queryset):
        self._set_state(request, queryset, Tenant.State.SUSPENDED)

    @admin.action(description="Resume selected tenants")
    def resume(self, request, queryset):
        self._set_state(request, queryset, Tenant.State.ACTIVE)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services or tasks: the console shows them, never edits them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResourcePlan)
class ResourcePlanAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "resource", "owned", "limit", "borrow_limit", "lend_limit", "updated_at"]
    list_filter = ["resource"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__full_slug"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "user", "group", "role", "inherited", "source", "created_at"]
    list_filter = ["role", "inherited", "source"]
    list_select_related = ["tenant", "user", "group"]
    search_fields = ["tenant__full_slug", "user__username", "group__name"]


class ClusterRegistrationForm(forms.ModelForm):
    kubeconfig = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False,
                                 help_text="Paste a kubeconfig (its current context is used). Never shown again.")
    token = forms.CharField(widget=forms.PasswordInput, required=False, help_text="Or a bearer token with the URL.")
    ca_cert = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="CA certificate (PEM)")
    insecure_skip_tls_verify = forms.BooleanField(required=False)

    class Meta:
        model = Cluster
        fields = ["name", "api_url", "credentials_ref", "description", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "api_url" in self.fields:
            self.fields["api_url"].required = False


class ClusterNodeInline(ReadOnlyInline):
    model = ClusterNode
    fields = ["name", "ready", "unschedulable", "allocatable", "requested", "synced_at"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    """Registration goes through the service: credentials are encrypted and the audit records only their source."""

    form = ClusterRegistrationForm
    list_display = ["name", "api_url", "health", "server_version", "is_active", "checked_at", "node_count"]
    list_filter = ["health", "is_active"]
    search_fields = ["name", "api_url"]
    readonly_fields = ["health", "health_message", "server_version", "checked_at", "inventory_synced_at",
                       "created_at"]
    actions = ["check_health"]
    inlines = [ClusterNodeInline]

    @admin.display(description="Nodes")
    def node_count(self, obj):
        return obj.nodes.count()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "api_url", "kubeconfig", "token", "ca_cert", "insecure_skip_tls_verify",
                    "credentials_ref", "description"]
        return ["name", "api_url", "credentials_ref", "description", "is_active", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name", "api_url", "credentials_ref"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            audit_record(actor=request.user, action="cluster.update", target=obj,
                         after={"is_active": obj.is_active, "description": obj.description})
            return
        data = form.cleaned_data
        try:
            created = cluster_services.cluster_create(
                name=data["name"], api_url=data.get("api_url") or "", actor=request.user,
                credentials_ref=data.get("credentials_ref") or "", description=data.get("description") or "",
                token=data.get("token") or "", ca_cert=data.get("ca_cert") or "",
                kubeconfig=data.get("kubeconfig") or "",
                insecure_skip_tls_verify=data.get("insecure_skip_tls_verify", False))
        except ServiceError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        obj.pk = created.pk
        cluster_services.cluster_check_health(cluster=created)

    @admin.action(description="Check health and version now")
    def check_health(self, request, queryset):
        for cluster in queryset:
            cluster = cluster_services.cluster_check_health(cluster=cluster)
            level = messages.SUCCESS if cluster.health == Cluster.Health.HEALTHY else messages.WARNING
            self.message_user(request, f"{cluster.name}: {cluster.health} {cluster.health_message}", level)


@admin.register(Namespace)
class NamespaceAdmin(ReadOnlyAdmin):
    list_display = ["name", "cluster", "tenant", "state", "created_at"]
    list_filter = ["cluster", "state"]
    list_select_related = ["cluster", "tenant"]
    search_fields = ["name", "tenant__full_slug"]


@admin.register(NamespaceUsage)
class NamespaceUsageAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "resource", "used", "observed_at"]
    list_select_related = ["namespace"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "target_repr", "tenant", "result"]
    list_filter = ["result", "action"]
    search_fields = ["actor_name", "action", "target_repr", "request_id"]
    list_select_related = ["tenant"]
    show_full_result_count = False
    date_hierarchy = "at"


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "state", "progress", "message", "tenant", "created_at", "finished_at"]
    list_filter = ["state", "type"]
    list_select_related = ["tenant"]
    show_full_result_count = False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]


@admin.register(OidcIdentity)
class OidcIdentityAdmin(ReadOnlyAdmin):
    list_display = ["user", "issuer", "subject", "last_login_at"]
    list_select_related = ["user"]


@admin.register(ManagedObject)
class ManagedObjectAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "kind", "name", "state", "synced_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["namespace"]
    search_fields = ["namespace__name", "name"]
