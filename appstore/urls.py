from django.urls import path

from . import release_pages, views

app_name = "appstore"

urlpatterns = [
    path("", views.StoreView.as_view(), name="store"),
    path("apps/<int:pk>/", views.AppDetailView.as_view(), name="app-detail"),
    path("apps/<int:pk>/install/", release_pages.InstallView.as_view(), name="app-install"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("review/", views.ReviewView.as_view(), name="review"),
    path("releases/", release_pages.ReleaseListView.as_view(), name="release-list"),
    path("releases/<int:pk>/", release_pages.ReleaseDetailView.as_view(), name="release-detail"),
    path("releases/<int:pk>/diff/", release_pages.ReleaseDiffView.as_view(), name="release-diff"),
    path("releases/<int:pk>/upgrade/", release_pages.ReleaseUpgradeView.as_view(), name="release-upgrade"),
    path("releases/<int:pk>/rollback/", release_pages.ReleaseRollbackView.as_view(), name="release-rollback"),
    path("releases/<int:pk>/uninstall/", release_pages.ReleaseUninstallView.as_view(), name="release-uninstall"),
    path("releases/<int:pk>/retry/", release_pages.ReleaseRetryView.as_view(), name="release-retry"),
    path("releases/<int:pk>/recover/", release_pages.ReleaseRecoverView.as_view(), name="release-recover"),
]
