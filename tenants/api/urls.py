from django.urls import path
from rest_framework.routers import DefaultRouter

from . import keystone_views, views

app_name = "tenants-api"

router = DefaultRouter()
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("namespaces", views.NamespaceViewSet, basename="namespace")
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("operations", views.OperationViewSet, basename="operation")

urlpatterns = [path("users/me/", views.MeView.as_view(), name="me"), *router.urls]
urlpatterns.append(path("keystone/sync/", keystone_views.KeystoneSyncView.as_view(), name="keystone-sync"))
