"""Filters shared by the API and the store-front pages."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from appstore.models import App, AppVersion, Release, ReleaseStatus, Repository
from tenants.filtersets import TenancyFilterSet


class AppFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=100,
                                  help_text="Name, display name, summary or keyword contains.")
    category = django_filters.CharFilter(field_name="categories__slug", max_length=50, help_text="A category slug.")
    tenant = django_filters.NumberFilter(field_name="tenant_id", min_value=1, help_text="The publishing tenant's id.")
    repository = django_filters.NumberFilter(field_name="repository_id", min_value=1)
    deprecated = django_filters.BooleanFilter()
    state = django_filters.ChoiceFilter(choices=App.State.choices)

    class Meta:
        model = App
        fields = ["q", "category", "tenant", "repository", "deprecated", "state"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # keywords is a JSON list; matching on its text form keeps this a single indexed-free scan,
        # fast enough for thousands of apps (see benchmarks/catalog_sync.py).
        return queryset.filter(Q(name__icontains=value) | Q(display_name__icontains=value)
                               | Q(summary__icontains=value) | Q(keywords__icontains=value))


class VersionFilterSet(django_filters.FilterSet):
    app = django_filters.NumberFilter(field_name="app_id", min_value=1)
    review_state = django_filters.ChoiceFilter(choices=AppVersion.Review.choices)
    status = django_filters.ChoiceFilter(choices=AppVersion.Status.choices)
    tenant = django_filters.NumberFilter(field_name="app__tenant_id", min_value=1)

    class Meta:
        model = AppVersion
        fields = ["app", "review_state", "status", "tenant"]


class RepositoryFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Repository.Kind.choices)
    tenant = django_filters.NumberFilter(field_name="tenant_id", min_value=1)
    sync_status = django_filters.ChoiceFilter(choices=Repository.SyncStatus.choices)

    class Meta:
        model = Repository
        fields = ["kind", "tenant", "sync_status"]


class ReleaseFilterSet(TenancyFilterSet):
    namespace = django_filters.NumberFilter(field_name="namespace_id", min_value=1)
    status = django_filters.ChoiceFilter(choices=ReleaseStatus.choices)
    app = django_filters.NumberFilter(field_name="app_id", min_value=1)

    class Meta:
        model = Release
        fields = ["tenant", "subtree", "namespace", "status", "app"]
