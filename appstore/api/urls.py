from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "appstore-api"

router = DefaultRouter()
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("apps", views.AppViewSet, basename="app")
router.register("versions", views.VersionViewSet, basename="version")

urlpatterns = [path("uploads/", views.UploadView.as_view(), name="upload"), *router.urls]
