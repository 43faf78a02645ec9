from django.urls import path
from rest_framework.routers import DefaultRouter

from . import policy_views, views

app_name = "scheduling-api"

router = DefaultRouter()
router.register("scheduling/requests", views.SchedulingRequestViewSet, basename="scheduling-request")
router.register("scheduling/bindings", views.BindingViewSet, basename="scheduling-binding")

urlpatterns = [path("tenants/<int:pk>/share/", views.TenantShareView.as_view(), name="tenant-share"),
               path("tenants/<int:pk>/scheduling-policy/", policy_views.TenantSchedulingPolicyView.as_view(),
                    name="tenant-scheduling-policy"),
               path("scheduling/settings/", policy_views.SchedulingSettingsView.as_view(), name="scheduling-settings"),
               *router.urls]
