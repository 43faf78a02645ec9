"""Filters shared by the API and the pages.

Every filter refuses what it cannot match instead of reading it as "no filter" or "no match":
a misspelt state or reason would otherwise answer an empty list that looks like a real answer.
"""

from __future__ import annotations

import django_filters
from django import forms

from scheduling.engine.explain import Reason
from tenants.filtersets import TenancyFilterSet

from .models import Binding, SchedulingRequest

# The states the cycle records: the engine's Status.state after a pass (engine/model.py).
# Terminating and Finished are the simulator's views of an allocation, never a request's row.
REQUEST_STATES = ("Pending", "Reserved", "Admitted", "Rejected")
REASONS = tuple(str(reason) for reason in Reason)  # X1: a closed enumeration


def closed_choice(values, **kwargs) -> django_filters.ChoiceFilter:
    """A filter on a closed set whose error lists the set, so the client can correct itself."""
    return django_filters.ChoiceFilter(
        choices=[(value, value) for value in values],
        error_messages={"invalid_choice": f"'%(value)s' is not one of: {', '.join(values)}."}, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number ≥ 1. (A NumberFilter reads "1.5" as a decimal that matches nothing.)"""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, **kwargs)


class SchedulingTenancyFilterSet(TenancyFilterSet):
    """The house ``tenant`` and ``subtree`` filters, strict: an unknown tenant id is an empty list
    (as the house answers), a malformed one or a ``subtree`` that is neither true nor false is a 400."""

    tenant = IdFilter(method="filter_tenant", help_text="A tenant id; with subtree=true, its whole subtree.")
    subtree = closed_choice(("true", "false"), method="filter_noop")


class SchedulingRequestFilterSet(SchedulingTenancyFilterSet):
    state = closed_choice(REQUEST_STATES)
    reason = closed_choice(REASONS, help_text="The engine's reason code (its latest word on the request).")
    namespace = django_filters.CharFilter(max_length=63)

    class Meta:
        model = SchedulingRequest
        fields = ["tenant", "subtree", "state", "reason", "namespace"]


class BindingFilterSet(SchedulingTenancyFilterSet):
    cluster = IdFilter()
    event = closed_choice(Binding.Event.values)
    share = closed_choice(Binding.Share.values)
    request = django_filters.CharFilter(max_length=300, help_text="The engine's request id: <namespace>/<pod or gang>.")
    namespace = django_filters.CharFilter(max_length=63)
    open = closed_choice(("true", "false"), method="filter_open",
                         help_text="true: holds that have not ended (open rows without a close row); "
                         "false: everything else.")

    class Meta:
        model = Binding
        fields = ["tenant", "subtree", "cluster", "event", "share", "request", "namespace", "open"]

    def filter_open(self, queryset, name, value):
        held = queryset.open()
        return held if value == "true" else queryset.exclude(pk__in=held.values("pk"))
