from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.TenantTreeView.as_view(), name="tenant-tree"),
    path("tenants/<int:pk>/", views.TenantDetailView.as_view(), name="tenant-detail"),
]
