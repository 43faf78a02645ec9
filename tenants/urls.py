from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.TenantTreeView.as_view(), name="tenant-tree"),
    path("tenants/<int:pk>/", views.TenantDetailView.as_view(), name="tenant-detail"),
    path("tenants/<int:pk>/audit/", views.TenantAuditView.as_view(), name="tenant-audit"),
    path("tenants/<int:pk>/children/new/", views.TenantCreateView.as_view(), name="tenant-create"),
    path("tenants/<int:pk>/quota/", views.QuotaPlanView.as_view(), name="quota-edit"),
    path("tenants/<int:pk>/members/new/", views.MembershipCreateView.as_view(), name="membership-create"),
    path("tenants/<int:pk>/members/<int:membership_pk>/", views.MembershipUpdateView.as_view(),
         name="membership-edit"),
    path("tenants/<int:pk>/members/<int:membership_pk>/remove/", views.MembershipDeleteView.as_view(),
         name="membership-delete"),
    path("tenants/<int:pk>/namespaces/new/", views.NamespaceCreateView.as_view(), name="namespace-create"),
    path("tenants/<int:pk>/namespaces/<int:namespace_pk>/", views.NamespaceDetailView.as_view(),
         name="namespace-detail"),
    path("clusters/", views.ClusterListView.as_view(), name="cluster-list"),
    path("tenants/<int:pk>/namespaces/<int:namespace_pk>/delete/", views.NamespaceDeleteView.as_view(),
         name="namespace-delete"),
]
