from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from . import policy_views, views
from .strict import TENANT_ID_PATTERN

app_name = "scheduling-api"

router = DefaultRouter()
router.register("scheduling/requests", views.SchedulingRequestViewSet, basename="scheduling-request")
router.register("scheduling/bindings", views.BindingViewSet, basename="scheduling-binding")

urlpatterns = [re_path(rf"^tenants/{TENANT_ID_PATTERN}/share/$", views.TenantShareView.as_view(), name="tenant-share"),
               re_path(rf"^tenants/{TENANT_ID_PATTERN}/scheduling-policy/$",
                       policy_views.TenantSchedulingPolicyView.as_view(), name="tenant-scheduling-policy"),
               path("scheduling/settings/", policy_views.SchedulingSettingsView.as_view(), name="scheduling-settings"),
               *router.urls]
