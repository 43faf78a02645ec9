from django.urls import path
from rest_framework.routers import DefaultRouter

from . import release_views, views

app_name = "appstore-api"

router = DefaultRouter()
router.register("repositories", views.RepositoryViewSet, basename="repository")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("apps", views.AppViewSet, basename="app")
router.register("versions", views.VersionViewSet, basename="version")
router.register("releases", release_views.ReleaseViewSet, basename="release")

urlpatterns = [path("uploads/", views.UploadView.as_view(), name="upload"), *router.urls]
