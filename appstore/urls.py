from django.urls import path

from . import views

app_name = "appstore"

urlpatterns = [
    path("", views.StoreView.as_view(), name="store"),
    path("apps/<int:pk>/", views.AppDetailView.as_view(), name="app-detail"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("review/", views.ReviewView.as_view(), name="review"),
]
