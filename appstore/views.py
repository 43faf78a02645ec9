"""The store front, upload form and review queue (server-rendered)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from appstore import permissions, selectors
from appstore.filtersets import AppFilterSet
from appstore.models import AppVersion, Category
from appstore.services import review, uploads
from bluedock_portal.errors import ServiceError
from tenants import selectors as tenant_selectors

PAGE = 60


class StoreView(LoginRequiredMixin, TemplateView):
    template_name = "appstore/store.html"

    def get_context_data(self, **kwargs):
        filters = AppFilterSet(self.request.GET, queryset=selectors.app_list(user=self.request.user))
        apps = list(filters.qs.order_by("display_name", "name")[:PAGE]) if filters.is_valid() else []
        return {**super().get_context_data(**kwargs), "apps": apps, "categories": Category.objects.all(),
                "q": self.request.GET.get("q", ""), "category": self.request.GET.get("category", "")}


class AppDetailView(LoginRequiredMixin, TemplateView):
    template_name = "appstore/app.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        app = selectors.app_list(user=user).filter(pk=self.kwargs["pk"]).first()
        if app is None:
            raise Http404("No such app")
        versions = selectors.app_versions(app=app, user=user)
        wanted = self.request.GET.get("version") or (app.latest_version.version if app.latest_version else "")
        chosen = next((v for v in versions if v.version == wanted), versions[0] if versions else None)
        if chosen is not None:
            chosen = AppVersion.objects.get(pk=chosen.pk)  # the full row (README, values) for the one shown
        return {**super().get_context_data(**kwargs), "app": app, "versions": versions, "chosen": chosen}


class UploadForm(forms.Form):
    tenant = forms.ChoiceField()
    chart = forms.FileField(help_text="A .tgz made by `helm package`.")


class UploadView(LoginRequiredMixin, TemplateView):
    template_name = "appstore/upload.html"

    def _form(self, data=None, files=None) -> UploadForm:
        form = UploadForm(data, files)
        tenants = [t for t in tenant_selectors.tenant_list(user=self.request.user)[:500]
                   if permissions.can_publish(self.request.user, t)]
        form.fields["tenant"].choices = [(t.pk, t.full_slug) for t in tenants]
        return form

    def get_context_data(self, **kwargs):
        user = self.request.user
        drafts = (selectors.version_list(user=user).exclude(review_state=AppVersion.Review.PUBLISHED)
                  .select_related("app", "app__tenant").order_by("-created_at")[:50])
        return {**super().get_context_data(**kwargs), "form": kwargs.get("form") or self._form(), "drafts": drafts}

    def post(self, request, *args, **kwargs):
        if "submit_version" in request.POST:
            return _act(request, review.version_submit, "upload")
        form = self._form(request.POST, request.FILES)
        if form.is_valid():
            tenant = tenant_selectors.tenant_list(user=request.user).filter(pk=form.cleaned_data["tenant"]).first()
            chart = form.cleaned_data["chart"]
            try:
                if tenant is None:
                    raise Http404
                if chart.size > settings.APPSTORE_MAX_CHART_BYTES:
                    raise ServiceError(f"the archive is {chart.size} bytes; the limit is "
                                       f"{settings.APPSTORE_MAX_CHART_BYTES}", code="chart_too_large")
                version = uploads.chart_upload(tenant=tenant, data=chart.read(), actor=request.user)
            except ServiceError as exc:
                form.add_error("chart", f"{exc.detail} ({exc.code})")
            else:
                messages.success(request, f"Uploaded {version} as a draft. Submit it for review when ready.")
                return redirect("appstore:upload")
        return self.render_to_response(self.get_context_data(form=form))


class ReviewView(LoginRequiredMixin, TemplateView):
    template_name = "appstore/review.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        approved = (selectors.version_list(user=user).filter(review_state=AppVersion.Review.APPROVED)
                    .select_related("app", "app__tenant")[:100])
        return {**super().get_context_data(**kwargs), "queue": selectors.review_queue(user=user)[:100],
                "approved": approved}

    def post(self, request, *args, **kwargs):
        actions = {"approve": review.version_approve, "reject": review.version_reject,
                   "publish": lambda **kw: review.version_publish(version=kw["version"], actor=kw["actor"])}
        service = actions.get(request.POST.get("action", ""))
        if service is None:
            raise Http404
        return _act(request, service, "review")


def _act(request, service, back: str):
    version = selectors.version_list(user=request.user).filter(pk=request.POST.get("version") or 0).first()
    if version is None:
        raise Http404
    try:
        service(version=version, actor=request.user, comment=request.POST.get("comment", "")[:2000])
    except ServiceError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, f"{version}: done.")
    return redirect(f"appstore:{back}")



