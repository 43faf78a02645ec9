"""Operators' console for releases: read-only rows; Retry and Recover are admin actions that call
the same services as the portal and the API, so permissions, locking and audit are the same."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from appstore.models import Release
from appstore.services import release_recovery
from bluedock_portal.errors import ServiceError


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "namespace",
        "tenant",
        "app",
        "current_version",
        "status",
        "current_revision",
        "locked_by",
        "updated_at",
    ]
    list_filter = ["status"]
    search_fields = ["name", "namespace__name", "tenant__full_slug"]
    list_select_related = ["namespace", "tenant", "app", "current_version", "locked_by"]
    show_full_result_count = False
    actions = ["retry", "recover"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Release._meta.fields]

    def has_add_permission(self, request):
        return False  # installs go through the portal or the API (pre-flight, quota, audit)

    def has_delete_permission(self, request, obj=None):
        return False  # uninstall is an operation that removes objects from the cluster

    @admin.action(description="Retry the failed operation")
    def retry(self, request, queryset):
        for release in queryset.select_related("tenant"):
            try:
                operation = release_recovery.release_retry(actor=request.user, release=release)
            except ServiceError as exc:
                self.message_user(request, f"{release.name}: {exc.detail} ({exc.code})", messages.ERROR)
            else:
                self.message_user(request, f"{release.name}: retry queued as operation #{operation.pk}.")

    @admin.action(description="Recover the stuck operation (asks for a reason)")
    def recover(self, request, queryset):
        """First a page asking for the reason (as delete_selected asks for confirmation), then the service."""
        releases = list(queryset.select_related("tenant", "locked_by"))
        reason = request.POST.get("reason", "")
        if "apply" not in request.POST:
            return self._reason_page(request, releases, reason, error="")
        if not reason.strip():
            return self._reason_page(request, releases, reason, error="Say why; the reason goes to the audit trail.")
        for release in releases:
            try:
                release_recovery.release_recover(actor=request.user, release=release, reason=reason)
            except ServiceError as exc:
                self.message_user(request, f"{release.name}: {exc.detail} ({exc.code})", messages.ERROR)
            else:
                self.message_user(request, f"{release.name}: recovered; it is failed and unlocked, retry it.")
        return None

    def _reason_page(self, request, releases, reason: str, error: str):
        context = {
            **self.admin_site.each_context(request),
            "title": "Recover stuck operations",
            "releases": releases,
            "reason": reason,
            "error": error,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/appstore/release/recover.html", context, status=400 if error else 200)
