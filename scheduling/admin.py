"""Operators' console for scheduling: the records are history written by the cycle, so read-only."""

from __future__ import annotations

from django.contrib import admin

from tenants.admin import ReadOnlyAdmin

from .models import Binding, SchedulingDecision
from .redact import Redactor


@admin.register(Binding)
class BindingAdmin(ReadOnlyAdmin):
    show_full_result_count = False  # append-only tables grow without bound
    list_display = ["id", "event", "request", "tenant", "share", "lender_scope", "reason", "pass_seq", "at"]
    list_filter = ["event", "share", "reason", "cluster"]
    search_fields = ["request", "namespace"]
    list_select_related = ["tenant", "cluster"]


@admin.register(SchedulingDecision)
class SchedulingDecisionAdmin(ReadOnlyAdmin):
    show_full_result_count = False
    list_display = ["id", "pass_seq", "action", "reason", "request", "victim", "tenant", "at"]
    list_filter = ["action", "reason", "cluster"]
    search_fields = ["request", "victim"]
    list_select_related = ["tenant", "cluster"]
    readonly_fields = ["explanation"]

    @admin.display(description="Message, with tenant paths")
    def explanation(self, obj) -> str:
        # The stored message keeps the engine's node ids (t<pk>); the console reads them as paths.
        return Redactor.for_operators().decision_message(obj)


from . import policy_admin  # noqa: E402, F401 (registers the policy and settings admins)
