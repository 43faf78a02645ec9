from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [path("tenants/<int:pk>/scheduling/", views.TenantSchedulingView.as_view(), name="tenant")]
