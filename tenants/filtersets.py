"""Filters shared by the API and the HTML views."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import Q

from .models import AuditEvent, Namespace, Operation, Tenant


class WholeNumberField(forms.IntegerField):
    """Digits only: forms.IntegerField still takes ``14.0``, and NumberFilter's decimal cut ``14.9`` to 14."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not re.fullmatch(r"-?[0-9]{1,19}", text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(text)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number filter (ids, depths); anything else is a 400, never a silently different number."""

    field_class = WholeNumberField


ID_MAX = 2**63 - 1


class TenantFilterSet(django_filters.FilterSet):
    parent = django_filters.CharFilter(method="filter_parent", help_text="A tenant id, or 'null' for roots.")
    depth = IntegerFilter(min_value=1, max_value=64)
    state = django_filters.ChoiceFilter(choices=Tenant.State.choices)
    q = django_filters.CharFilter(method="filter_q", max_length=100, help_text="Name or slug contains.")
    keystone_project_id = django_filters.CharFilter()

    class Meta:
        model = Tenant
        fields = ["parent", "depth", "state", "q", "keystone_project_id"]

    def filter_parent(self, queryset, name, value):
        if value.lower() in {"null", "none", ""}:
            return queryset.filter(parent__isnull=True)
        if not value.isdigit() or len(value) > 18:
            raise _bad("parent", "a tenant id or 'null'")
        return queryset.filter(parent_id=int(value))

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


def _bad(field: str, expected: str):
    from rest_framework.exceptions import ValidationError

    return ValidationError({field: [f"Expected {expected}."]})


class TenancyFilterSet(django_filters.FilterSet):
    """Adds ``tenant`` (an id; includes the subtree with ``subtree=true``)."""

    tenant = IntegerFilter(method="filter_tenant", min_value=1, max_value=ID_MAX)
    subtree = django_filters.BooleanFilter(method="filter_noop")

    def filter_tenant(self, queryset, name, value):
        if self.data.get("subtree") in {"true", "1"}:
            tenant = Tenant.objects.filter(pk=value).first()
            if tenant is None:
                return queryset.none()
            return queryset.filter(tenant__path__startswith=tenant.path)
        return queryset.filter(tenant_id=value)

    def filter_noop(self, queryset, name, value):
        return queryset


class NamespaceFilterSet(TenancyFilterSet):
    cluster = IntegerFilter(min_value=1, max_value=ID_MAX)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=63)

    class Meta:
        model = Namespace
        fields = ["tenant", "cluster", "state", "q"]


class AuditEventFilterSet(django_filters.FilterSet):
    tenant = IntegerFilter(method="filter_tenant", min_value=1, max_value=ID_MAX,
                           help_text="Events of this tenant and its whole subtree.")
    action = django_filters.CharFilter()
    actor = django_filters.CharFilter(field_name="actor_name")
    result = django_filters.ChoiceFilter(choices=AuditEvent.Result.choices)
    target_type = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["tenant", "action", "actor", "result", "target_type", "since", "until"]

    def filter_tenant(self, queryset, name, value):
        tenant = Tenant.objects.filter(pk=value).first()
        if tenant is None:
            return queryset.none()
        return queryset.filter(tenant_path__startswith=tenant.path)


class OperationFilterSet(TenancyFilterSet):
    state = django_filters.ChoiceFilter(choices=Operation.State.choices)
    type = django_filters.CharFilter()

    class Meta:
        model = Operation
        fields = ["tenant", "state", "type"]
