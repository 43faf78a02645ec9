"""Forms of the release pages: install (values generated from the version's schema), upgrade, rollback, uninstall.

The generated value fields only convert types; every rule of the schema (minimum, required, …) is
checked by the install service, so the page shows the same ``schema_invalid`` answer as the API.
"""

from __future__ import annotations

import yaml
from django import forms

from appstore.models import AppVersion, Release
from appstore.models.releases import RELEASE_NAME
from appstore.releases import render

VALUE_PREFIX = "value__"
SCALARS = {"string", "integer", "number", "boolean"}


def parse_values_yaml(text: str) -> dict:
    """A YAML mapping (blank: {}); anything else is a ValidationError."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise forms.ValidationError(f"Not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise forms.ValidationError("The values must be a YAML mapping (key: value).")
    if problem := render.values_problem(data):
        raise forms.ValidationError(f"The values must be plain JSON data: {problem}.")
    return data


def _defaults(version: AppVersion) -> dict:
    try:
        data = yaml.safe_load(version.values_yaml or "") or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def scalar_properties(schema: dict | None) -> list[tuple[str, dict]]:
    """Top-level properties of a scalar type, in the schema's order."""
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    return [(key, spec) for key, spec in properties.items()
            if isinstance(spec, dict) and spec.get("type") in SCALARS]


def _value_field(spec: dict, initial) -> forms.Field:
    kind = spec["type"]
    help_text = str(spec.get("description", ""))[:500]
    common = {"required": False, "help_text": help_text, "initial": initial}
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        by_text = {str(v): v for v in spec["enum"]}
        choices = [("", "—")] * (initial is None) + [(text, text) for text in by_text]
        return forms.TypedChoiceField(choices=choices, coerce=lambda text: by_text[text], empty_value=None,
                                      **{**common, "initial": None if initial is None else str(initial)})
    if kind == "boolean":
        return forms.BooleanField(**{**common, "initial": bool(initial)})
    if kind == "integer":
        return forms.IntegerField(**common)
    if kind == "number":
        return forms.FloatField(**common)
    return forms.CharField(**common, max_length=5000)


class InstallForm(forms.Form):
    namespace = forms.TypedChoiceField(coerce=int, help_text="Namespaces of tenants where you are at least a member.")
    name = forms.CharField(max_length=53, validators=[RELEASE_NAME], label="Release name")
    values_yaml = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
                                  label="More values (YAML)",
                                  help_text="Merged over the fields above: nested values and anything the "
                                            "fields do not offer.")

    def __init__(self, *args, version: AppVersion, namespaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.fields["namespace"].choices = [(ns.pk, f"{ns.tenant.full_slug} / {ns.name} ({ns.cluster.name})")
                                            for ns in namespaces]
        schema = version.values_schema if isinstance(version.values_schema, dict) else {}
        required = set(schema.get("required") or [])
        self.defaults = _defaults(version)
        self.value_keys: dict[str, str] = {}
        for key, spec in scalar_properties(schema):
            initial = self.defaults.get(key, spec.get("default"))
            field_name = VALUE_PREFIX + key
            self.fields[field_name] = _value_field(spec, initial)
            self.fields[field_name].label = f"{key} (required)" if key in required else key
            self.value_keys[field_name] = key
        # the YAML box after the generated fields
        self.order_fields(["namespace", "name", *self.value_keys, "values_yaml"])

    def clean_values_yaml(self) -> dict:
        return parse_values_yaml(self.cleaned_data.get("values_yaml", ""))

    def value_fields(self):
        return [self[name] for name in self.value_keys]

    def overrides(self) -> dict:
        """The user's overrides: generated fields that differ from the chart's defaults, then the YAML over them."""
        values = {}
        for field_name, key in self.value_keys.items():
            value = self.cleaned_data.get(field_name)
            default = self.defaults.get(key)
            if isinstance(self.fields[field_name], forms.BooleanField):
                if value != bool(default) or (key not in self.defaults and value):
                    values[key] = value
            elif value not in (None, "") and value != default:
                values[key] = value
        return render.merge_values(values, self.cleaned_data.get("values_yaml") or {})

    def field_for_path(self, path: str) -> str | None:
        """'/replicas' → 'value__replicas' when that field is offered."""
        key = path.lstrip("/").split("/", 1)[0]
        name = VALUE_PREFIX + key
        return name if name in self.value_keys else None


class UpgradeForm(forms.Form):
    app_version = forms.TypedChoiceField(coerce=int, label="Version", required=False, empty_value=None,
                                         help_text="Blank: keep the current version.")
    values_yaml = forms.CharField(required=False, label="Values (YAML)",
                                  widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
                                  help_text="Your overrides of the chart's defaults; blank means none.")

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["app_version"].choices = [("", "(current)")] + [(v.pk, v.version) for v in versions]

    def clean_values_yaml(self) -> dict:
        return parse_values_yaml(self.cleaned_data.get("values_yaml", ""))


class RollbackForm(forms.Form):
    revision = forms.TypedChoiceField(coerce=int, label="Revision")

    def __init__(self, *args, revisions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["revision"].choices = [(r.revision, f"{r.revision} — {r.app_version.version} ({r.kind})")
                                           for r in revisions]


class UninstallForm(forms.Form):
    confirm = forms.CharField(max_length=60, label="Type the release name to confirm")

    def __init__(self, *args, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = release

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.release.name:
            raise forms.ValidationError(f"Type '{self.release.name}' to uninstall this release.")
        return value


class RetryForm(forms.Form):
    """No fields: a retry runs the failed revision again as it was."""


class RecoverForm(forms.Form):
    # Not required here: the service answers an empty reason with its own code (reason_required).
    reason = forms.CharField(required=False, label="Reason (goes to the audit trail)",
                             widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500}))
