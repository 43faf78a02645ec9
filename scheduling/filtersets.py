"""Filters shared by the API and the pages."""

from __future__ import annotations

import django_filters

from tenants.filtersets import TenancyFilterSet

from .models import Binding


class BindingFilterSet(TenancyFilterSet):
    cluster = django_filters.NumberFilter(min_value=1)
    event = django_filters.ChoiceFilter(choices=Binding.Event.choices)
    share = django_filters.ChoiceFilter(choices=Binding.Share.choices)
    request = django_filters.CharFilter(max_length=300, help_text="The engine's request id: <namespace>/<pod or gang>.")
    namespace = django_filters.CharFilter(max_length=63)
    # A choice, not a BooleanFilter: that one reads "maybe" as "no filter" instead of refusing it.
    open = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_open",
                                       help_text="true: holds that have not ended (open rows without a close row); "
                                       "false: everything else.")

    class Meta:
        model = Binding
        fields = ["tenant", "subtree", "cluster", "event", "share", "request", "namespace", "open"]

    def filter_open(self, queryset, name, value):
        held = queryset.open()
        return held if value == "true" else queryset.exclude(pk__in=held.values("pk"))
