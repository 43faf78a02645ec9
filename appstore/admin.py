"""Operators' console for the catalog: state changes go through services (audit, latest version)."""

from __future__ import annotations

from django.contrib import admin, messages

from appstore.models import App, AppRole, AppVersion, Category, Repository
from appstore.services import repositories as repository_services
from appstore.services import review
from bluedock_portal.errors import ServiceError


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "scope", "tenant", "sync_status", "last_synced_at"]
    list_filter = ["kind", "scope", "sync_status"]
    list_select_related = ["tenant"]
    readonly_fields = ["sync_status", "sync_message", "last_synced_at", "kind", "scope", "tenant"]
    exclude = ["password_encrypted"]
    actions = ["sync_now"]

    def has_add_permission(self, request):
        return False  # through the API/service, so validation, credentials and audit are applied

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        for repository in queryset:
            try:
                repository_services.repository_sync_request(repository=repository, actor=request.user)
            except ServiceError as exc:
                self.message_user(request, f"{repository}: {exc.detail}", messages.ERROR)


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "repository", "tenant", "state", "latest_version"]
    list_filter = ["state", "categories"]
    search_fields = ["name", "display_name"]
    list_select_related = ["repository", "tenant", "latest_version"]
    readonly_fields = ["repository", "tenant", "name", "latest_version", "deprecated"]
    filter_horizontal = ["categories"]
    show_full_result_count = False


@admin.register(AppVersion)
class AppVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "review_state", "status", "deprecated", "crds_present", "created_at"]
    list_filter = ["review_state", "status", "crds_present"]
    search_fields = ["app__name", "version"]
    list_select_related = ["app"]
    show_full_result_count = False
    actions = ["approve", "publish", "suspend", "activate"]
    exclude = ["archive"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AppVersion._meta.fields if f.name != "archive"]

    def has_add_permission(self, request):
        return False

    def _each(self, request, queryset, call):
        for version in queryset:
            try:
                call(version)
            except ServiceError as exc:
                self.message_user(request, f"{version}: {exc.detail}", messages.ERROR)

    @admin.action(description="Approve (submitted)")
    def approve(self, request, queryset):
        self._each(request, queryset, lambda v: review.version_approve(version=v, actor=request.user))

    @admin.action(description="Publish (approved)")
    def publish(self, request, queryset):
        self._each(request, queryset, lambda v: review.version_publish(version=v, actor=request.user))

    @admin.action(description="Suspend for new installs")
    def suspend(self, request, queryset):
        self._each(request, queryset, lambda v: review.version_set_status(version=v, actor=request.user,
                                                                          status=AppVersion.Status.SUSPENDED))

    @admin.action(description="Activate for new installs")
    def activate(self, request, queryset):
        self._each(request, queryset, lambda v: review.version_set_status(version=v, actor=request.user,
                                                                          status=AppVersion.Status.ACTIVE))


@admin.register(AppRole)
class AppRoleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "group", "role", "tenant"]
    list_filter = ["role"]
    autocomplete_fields = ["user", "group"]
    list_select_related = ["user", "group", "tenant"]


from appstore import release_admin  # noqa: E402, F401 (registers ReleaseAdmin)
