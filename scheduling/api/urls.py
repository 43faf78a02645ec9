from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "scheduling-api"

router = DefaultRouter()
router.register("scheduling/requests", views.SchedulingRequestViewSet, basename="scheduling-request")
router.register("scheduling/bindings", views.BindingViewSet, basename="scheduling-binding")

urlpatterns = [path("tenants/<int:pk>/share/", views.TenantShareView.as_view(), name="tenant-share"),
               *router.urls]
