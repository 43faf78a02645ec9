"""Portal pages for releases: install form, release page (status, live resources, events, log, history,
operations, upgrade/rollback/uninstall, retry/recover), diff, list.

Every release is resolved through ``Release.objects.visible_to(user)`` before the method is looked at,
so a release of a tenant the user cannot see is the same 404 for GET and every POST. Each POST calls
one service; a ServiceError becomes a form error (with its message) and nothing is stored.
"""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from appstore import selectors
from appstore.models import AppVersion, Release, ReleaseStatus
from appstore.models.releases import ReleaseRevision
from appstore.releases import redact
from appstore.services import release_recovery, release_state
from appstore.services import releases as release_services
from bluedock_portal.errors import ServiceError
from tenants import selectors as tenant_selectors
from tenants.access import access_for
from tenants.models import Namespace, Operation, Role

from .release_forms import InstallForm, RecoverForm, RetryForm, RollbackForm, UninstallForm, UpgradeForm

MAX_NAMESPACES = 500


def _error_text(exc: ServiceError) -> str:
    return f"{exc.detail} ({exc.code})"


def member_namespaces(user) -> list[Namespace]:
    """Namespaces of tenants where the user holds at least the member role (what the install form offers)."""
    access = access_for(user)
    candidates = (Namespace.objects.visible_to(user).exclude(state=Namespace.State.DELETING)
                  .select_related("tenant", "cluster").order_by("tenant__full_slug", "name")[:MAX_NAMESPACES])
    return [ns for ns in candidates if access.has_role(ns.tenant, Role.MEMBER)]


class InstallView(LoginRequiredMixin, TemplateView):
    """``/store/apps/<pk>/install/?version=…``: install a version of an app into one of your namespaces."""

    template_name = "appstore/release_install.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.version  # noqa: B018  (404 before the method check)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def app(self):
        app = selectors.app_list(user=self.request.user).filter(pk=self.kwargs["pk"]).first()
        if app is None:
            raise Http404("No such app")
        return app

    @cached_property
    def versions(self) -> list[AppVersion]:
        return [v for v in selectors.app_versions(app=self.app, user=self.request.user) if v.installable]

    @cached_property
    def version(self) -> AppVersion:
        wanted = self.request.POST.get("version") or self.request.GET.get("version") or (
            self.app.latest_version.version if self.app.latest_version else "")
        chosen = next((v for v in self.versions if v.version == wanted), None)
        if chosen is None and not (self.request.POST.get("version") or self.request.GET.get("version")):
            chosen = self.versions[0] if self.versions else None
        if chosen is None:
            raise Http404("No installable version")
        return AppVersion.objects.select_related("app").get(pk=chosen.pk)

    def form(self, data=None) -> InstallForm:
        return InstallForm(data, version=self.version, namespaces=member_namespaces(self.request.user))

    def get_context_data(self, **kwargs):
        form = kwargs.get("form") or self.form()
        return {**super().get_context_data(**kwargs), "app": self.app, "versions": self.versions,
                "chosen": self.version, "form": form,
                "general_fields": [form["namespace"], form["name"]], "value_fields": form.value_fields(),
                "yaml_field": form["values_yaml"]}

    def post(self, request, *args, **kwargs):
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        namespace = next((ns for ns in member_namespaces(request.user) if ns.pk == form.cleaned_data["namespace"]),
                         None)
        if namespace is None:  # the choices already refuse it; kept for a race with a membership change
            raise Http404("No such namespace")
        try:
            release, operation = release_services.release_install(
                actor=request.user, namespace=namespace, name=form.cleaned_data["name"], app_version=self.version,
                values=form.overrides())
        except ServiceError as exc:
            field = exc.extra.get("field")
            form.add_error(field if field in form.fields else None, _error_text(exc))
            for error in exc.extra.get("errors") or []:
                target = form.field_for_path(str(error.get("path", "")))
                if target:
                    form.add_error(target, str(error.get("message", "")))
            return self.render_to_response(self.get_context_data(form=form), status=exc.status)
        messages.success(request, f"Installing {release.name} ({self.version}) into {namespace.name}: "
                                  f"operation #{operation.pk} is queued.")
        return HttpResponseRedirect(reverse("appstore:release-detail", args=[release.pk]))


class ReleaseListView(LoginRequiredMixin, TemplateView):
    """``/store/releases/?tenant=&status=``: the releases the user can see."""

    template_name = "appstore/releases.html"
    max_rows = 500

    def get_context_data(self, **kwargs):
        user = self.request.user
        releases = (Release.objects.visible_to(user)
                    .select_related("tenant", "namespace", "namespace__cluster", "app", "current_version")
                    .order_by("tenant__full_slug", "namespace__name", "name"))
        tenants = list(tenant_selectors.tenant_list(user=user).filter(releases__isnull=False).distinct()[:200])
        tenant = self.request.GET.get("tenant", "")
        if tenant.isdigit():
            releases = releases.filter(tenant_id=int(tenant))
        status = self.request.GET.get("status", "")
        if status in ReleaseStatus.values:
            releases = releases.filter(status=status)
        return {**super().get_context_data(**kwargs), "releases": releases[: self.max_rows], "tenants": tenants,
                "tenant": tenant, "status": status, "statuses": ReleaseStatus.choices}


class ReleaseMixin(LoginRequiredMixin):
    """The URL's release, looked up among those the user may see: everything else is 404 for every method."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.release  # noqa: B018
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def release(self) -> Release:
        found = (Release.objects.visible_to(self.request.user)
                 .select_related("tenant", "namespace", "namespace__cluster", "app", "current_version", "locked_by")
                 .filter(pk=self.kwargs["pk"]).first())
        if found is None:
            raise Http404("No such release")
        return found

    @cached_property
    def revisions(self) -> list[ReleaseRevision]:
        return list(self.release.revisions.select_related("app_version", "actor", "operation")
                    .order_by("-revision")[:100])

    @cached_property
    def upgrade_versions(self) -> list[AppVersion]:
        return [v for v in selectors.app_versions(app=self.release.app, user=self.request.user) if v.installable]

    def rollback_targets(self) -> list[ReleaseRevision]:
        current = self.release.current_revision
        return [r for r in self.revisions
                if r.kind != ReleaseRevision.Kind.UNINSTALL and r.manifest and r.revision != current]

    def url(self) -> str:
        return reverse("appstore:release-detail", args=[self.release.pk])


class ReleaseDetailView(ReleaseMixin, TemplateView):
    """Status, history, the latest operations (refreshing while one runs) and the upgrade/rollback/uninstall forms."""

    template_name = "appstore/release.html"

    def forms(self, **bound) -> dict:
        release = self.release
        initial_values = yaml.safe_dump(release.user_values, sort_keys=False) if release.user_values else ""
        return {
            "upgrade_form": bound.get("upgrade_form") or UpgradeForm(versions=self.upgrade_versions,
                                                                     initial={"values_yaml": initial_values}),
            "rollback_form": bound.get("rollback_form") or RollbackForm(revisions=self.rollback_targets()),
            "uninstall_form": bound.get("uninstall_form") or UninstallForm(release=release),
            "retry_form": bound.get("retry_form") or RetryForm(),
            "recover_form": bound.get("recover_form") or RecoverForm(),
        }

    def get_context_data(self, **kwargs):
        release = self.release
        operations = list(Operation.objects.filter(target_type=release._meta.label_lower, target_id=str(release.pk))
                          .order_by("-created_at", "-pk")[:10])
        access = access_for(self.request.user)
        can_change = access.has_role(release.tenant, Role.MEMBER)
        if not can_change:  # a viewer: the values may hold secrets (shown in memory only, never saved)
            release.user_values = redact.values(release.user_values)
        lock = release.locked_by
        return {**super().get_context_data(**kwargs), "release": release, "revisions": self.revisions,
                "operations": operations,
                "in_progress": any(op.state not in Operation.TERMINAL for op in operations),
                "can_change": can_change,
                "can_retry": can_change and release.status == ReleaseStatus.FAILED and lock is None,
                "can_recover": lock is not None and access.has_role(release.tenant, Role.TENANT_ADMIN),
                "stuck": release_recovery.stuck_since(lock, now=timezone.now()) if lock else None,
                "uninstalled": release.status == ReleaseStatus.UNINSTALLED,
                "resources": release_state.release_resources(release=release),
                "events": release_state.release_events(release=release),
                **self.forms(**kwargs)}


class ReleaseActionView(ReleaseDetailView):
    """A POST that calls one service; errors re-render the release page with the form's error."""

    http_method_names = ["post"]
    form_key = ""

    def build_form(self, data):
        raise NotImplementedError

    def perform(self, form) -> Operation:
        raise NotImplementedError

    def done(self, operation: Operation) -> str:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        form = self.build_form(request.POST)
        if form.is_valid():
            try:
                operation = self.perform(form)
            except ServiceError as exc:
                form.add_error(None, _error_text(exc))
                messages.error(request, _error_text(exc))
                return self.render_to_response(self.get_context_data(**{self.form_key: form}), status=exc.status)
            messages.success(request, f"{self.done(operation)} (operation #{operation.pk}).")
            return HttpResponseRedirect(self.url())
        return self.render_to_response(self.get_context_data(**{self.form_key: form}), status=400)


class ReleaseUpgradeView(ReleaseActionView):
    form_key = "upgrade_form"

    def build_form(self, data):
        return UpgradeForm(data, versions=self.upgrade_versions)

    def perform(self, form):
        pk = form.cleaned_data["app_version"]
        version = next((v for v in self.upgrade_versions if v.pk == pk), None) if pk else None
        if version is not None:
            version = AppVersion.objects.get(pk=version.pk)
        return release_services.release_upgrade(actor=self.request.user, release=self.release,
                                                app_version=version, values=form.cleaned_data["values_yaml"])

    def done(self, operation):
        return f"Upgrading {self.release.name}"


class ReleaseRollbackView(ReleaseActionView):
    form_key = "rollback_form"

    def build_form(self, data):
        return RollbackForm(data, revisions=self.rollback_targets())

    def perform(self, form):
        return release_services.release_rollback(actor=self.request.user, release=self.release,
                                                 revision=form.cleaned_data["revision"])

    def done(self, operation):
        return f"Rolling {self.release.name} back"


class ReleaseUninstallView(ReleaseActionView):
    form_key = "uninstall_form"

    def build_form(self, data):
        return UninstallForm(data, release=self.release)

    def perform(self, form):
        return release_services.release_uninstall(actor=self.request.user, release=self.release)

    def done(self, operation):
        return f"Uninstalling {self.release.name}"


class ReleaseRetryView(ReleaseActionView):
    form_key = "retry_form"

    def build_form(self, data):
        return RetryForm(data)

    def perform(self, form):
        return release_recovery.release_retry(actor=self.request.user, release=self.release)

    def done(self, operation):
        return f"Retrying {self.release.name}"


class ReleaseRecoverView(ReleaseActionView):
    """Not an Operation: recovery is immediate, so this answers with the release page and a message."""

    form_key = "recover_form"

    def build_form(self, data):
        return RecoverForm(data)

    def perform(self, form):
        stuck = self.release.locked_by  # the operation being recovered (the service refuses when there is none)
        release_recovery.release_recover(actor=self.request.user, release=self.release,
                                         reason=form.cleaned_data["reason"])
        return stuck

    def done(self, operation):
        return f"Recovered {self.release.name}: the stuck operation is marked failed; retry to converge"


class ReleaseDiffView(ReleaseMixin, TemplateView):
    """``?to_version=<id>`` (or ``?revision=<n>``): the values and manifest diff, from the API's ``release_diff``."""

    template_name = "appstore/release_diff.html"

    def get_context_data(self, **kwargs):
        release, params = self.release, self.request.GET
        context = {**super().get_context_data(**kwargs), "release": release, "versions": self.upgrade_versions,
                   "revisions": self.rollback_targets(), "to_version": params.get("to_version", ""),
                   "revision": params.get("revision", ""), "diff": None, "error": None}
        version = None
        wanted = context["to_version"]
        if wanted:
            version = (selectors.version_list(user=self.request.user).filter(pk=int(wanted)).select_related("app")
                       .first() if wanted.isdigit() else None)
            if version is None:
                context["error"] = f"Version {wanted} does not exist."
                return context
        revision = int(context["revision"]) if context["revision"].isdigit() else None
        try:
            diff = release_services.release_diff(
                release=release, app_version=version, revision=revision,
                redacted=not access_for(self.request.user).has_role(release.tenant, Role.MEMBER))
        except ServiceError as exc:
            context["error"] = _error_text(exc)
            return context
        context["diff"] = diff
        context["values_text"] = _values_text(diff["values"])
        context["effective_text"] = _values_text(diff["effective_values"])
        return context


def _values_text(changes: list[dict]) -> str:
    lines = []
    for change in changes:
        op, path = change.get("op"), change.get("path")
        if op == "added":
            lines.append(f"+ {path}: {change.get('to')!r}")
        elif op == "removed":
            lines.append(f"- {path}: {change.get('from')!r}")
        else:
            lines.append(f"~ {path}: {change.get('from')!r} → {change.get('to')!r}")
    return "\n".join(lines) or "(no change)"
