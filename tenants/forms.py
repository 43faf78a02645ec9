"""Portal forms. They only shape input; every rule is checked by the service each view calls."""

from __future__ import annotations

import re

from django import forms

from bluedock_portal.errors import InvalidInput
from tenants.api.quota_input import NULLABLE, parse_quota_changes
from tenants.models import RESOURCES, Cluster, Role
from tenants.models.memberships import ROLE_RANK
from tenants.models.tree import DNS_LABEL
from tenants.services.plans import PLAN_FIELDS

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


class TenantCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(max_length=63, validators=[DNS_LABEL],
                           help_text="Lowercase letters, digits and '-'; unique among siblings.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


def grantable_roles(held: str | None) -> list[tuple[str, str]]:
    """Roles up to the one the granter holds: offering more would only earn a refusal."""
    if held is None:
        return []
    return [(value, label) for value, label in Role.choices if ROLE_RANK[value] <= ROLE_RANK[held]]


class MembershipCreateForm(forms.Form):
    user = forms.CharField(max_length=150, required=False, help_text="A username, or leave empty for a group.")
    group = forms.CharField(max_length=150, required=False, help_text="A group name, or leave empty for a user.")
    role = forms.ChoiceField(choices=Role.choices)
    inherited = forms.BooleanField(required=False, label="Also applies to every tenant below")

    def __init__(self, *args, held_role: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if held_role is not None:
            self.fields["role"].choices = grantable_roles(held_role)

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError("Give either a user or a group (exactly one).")
        return data


class MembershipUpdateForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    inherited = forms.BooleanField(required=False, label="Also applies to every tenant below")


class NamespaceCreateForm(forms.Form):
    cluster = forms.ModelChoiceField(queryset=Cluster.objects.filter(is_active=True), empty_label=None)
    name = forms.CharField(max_length=63, validators=[DNS_LABEL], help_text="A DNS-1123 label, e.g. team-a-dev.")


class ConfirmForm(forms.Form):
    """No fields: the button is the confirmation."""


class NamespaceDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=63, label="Type the namespace name to confirm")


def quota_field_name(resource: str, field: str) -> str:
    return f"{resource}__{field}"


class QuotaPlanForm(forms.Form):
    """owned/limit/borrow_limit/lend_limit per resource; blank clears a nullable field.

    Values are CharFields so parse_quota_changes (the API's strict parser) decides what
    a valid quantity is, and the page and the API refuse exactly the same input.
    """

    def __init__(self, *args, current: dict[str, dict[str, int | None]], **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        for resource, unit in RESOURCES.items():
            for field in PLAN_FIELDS:
                value = current.get(resource, {}).get(field)
                self.fields[quota_field_name(resource, field)] = forms.CharField(
                    required=field not in NULLABLE, max_length=32, initial="" if value is None else value,
                    label=f"{resource} {field.replace('_', ' ')} ({unit})",
                    widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 12}))

    def rows(self):
        """[(resource, unit, [bound fields])] for a table with one row per resource."""
        return [(resource, unit, [self[quota_field_name(resource, f)] for f in PLAN_FIELDS])
                for resource, unit in RESOURCES.items()]

    def clean(self):
        data = super().clean()
        self.changes: dict[str, dict[str, int | None]] = {}
        for resource in RESOURCES:
            for field in PLAN_FIELDS:
                name = quota_field_name(resource, field)
                if name not in data:
                    continue
                try:
                    value = parse_quota_changes({resource: {field: _as_number(data[name])}})[resource][field]
                except InvalidInput as exc:
                    self.add_error(name, exc.detail)
                    continue
                if value != self.current.get(resource, {}).get(field, 0 if field == "owned" else None):
                    self.changes.setdefault(resource, {})[field] = value
        return data


def _as_number(raw: str):
    """'' → None, ASCII digits → int; anything else is passed on for the parser to reject by value."""
    if raw == "":
        return None
    return int(raw) if _WHOLE_NUMBER.fullmatch(raw) else raw
