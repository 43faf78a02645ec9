"""Operators' console for the scheduling policy: the same checks and audit as the API (``scheduling.policy``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from bluedock_portal.errors import ServiceError

from . import policy
from .models import SchedulingSettings, TenantSchedulingPolicy
from .policy_input import POLICY_FIELDS, STRATEGIES, parse_fields, parse_settings_fields


class _ServiceCheckedForm(forms.ModelForm):
    """Runs the API's field parsing and the service's checks in ``clean``, so a refusal is a form error."""

    parsed: dict

    def _check(self, values: dict, parse, check) -> None:
        try:
            self.parsed = parse(values)
            row = self.instance
            for name, value in self.parsed.items():
                setattr(row, name, value)
            check(row)
        except ServiceError as exc:
            field = str(exc.extra.get("field", ""))
            field = "borrow_preempt_policy" if field == "borrow_preempt.policy" else field
            self.add_error(field if field in self.fields else None, exc.detail)


class TenantSchedulingPolicyForm(_ServiceCheckedForm):
    required_checks = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                      help_text="One scheduling gate name per line, e.g. example.com/budget-approved.")

    class Meta:
        model = TenantSchedulingPolicy
        fields = ["tenant", *POLICY_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["required_checks"] = "\n".join(self.instance.required_checks or [])

    def clean_required_checks(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["required_checks"].splitlines() if line.strip()]

    def clean(self):
        data = super().clean()
        tenant = data.get("tenant") or (self.instance.tenant if self.instance.pk else None)
        if not self.errors and tenant is not None:
            self.instance.tenant = tenant
            self._check({name: data.get(name) for name in POLICY_FIELDS}, lambda v: parse_fields(v, POLICY_FIELDS),
                        policy.tenant_policy_check)
        return data


@admin.register(TenantSchedulingPolicy)
class TenantSchedulingPolicyAdmin(admin.ModelAdmin):
    """Per-tenant policy; no row means the engine's defaults. Saved through the service (checked, audited)."""

    form = TenantSchedulingPolicyForm
    list_display = ["tenant", "weight", "share_tier", "queueing", "reclaim_policy", "borrow_preempt_policy", "fence",
                    "required_checks", "updated_at"]
    list_filter = ["queueing", "reclaim_policy", "borrow_preempt_policy", "fence"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__full_slug"]
    autocomplete_fields = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # set the fields back instead: every change goes through the audited service

    def save_model(self, request, obj, form, change):
        try:
            saved = policy.tenant_policy_update(tenant=obj.tenant, changes=form.parsed, actor=request.user)
        except ServiceError as exc:  # checked in the form already; a concurrent change may still refuse
            self.message_user(request, exc.detail, messages.ERROR)
            return
        obj.pk = saved.pk


class SchedulingSettingsForm(_ServiceCheckedForm):
    fs_strategies = forms.MultipleChoiceField(choices=[(s, s) for s in STRATEGIES],
                                              widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = SchedulingSettings
        fields = ["fair_share_preemption", "fs_strategies", "fs_epsilon", "fs_budget", "fs_budget_window",
                  "release_slack", "borrowing_preference", "preempted_priority_boost"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            values = {name: data.get(name) for name in self.Meta.fields}
            values["fs_budget"] = values["fs_budget"] or None  # an empty box means no budget
            self._check(values, parse_settings_fields, policy.settings_check)
        return data


@admin.register(SchedulingSettings)
class SchedulingSettingsAdmin(admin.ModelAdmin):
    """The one row of cluster-wide settings (absent: the engine's defaults). Saved through the service."""

    form = SchedulingSettingsForm
    list_display = ["__str__", "fair_share_preemption", "borrowing_preference", "fs_budget", "updated_at"]

    def has_add_permission(self, request):
        return not SchedulingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            saved = policy.scheduling_settings_update(changes=form.parsed, actor=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        obj.pk = saved.pk
