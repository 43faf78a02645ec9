"""The self-service portal (server-rendered). Reads go through selectors, writes through one service each."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.generic import FormView, ListView, TemplateView

from bluedock_portal.errors import ServiceError

from . import forms, selectors
from .access import access_for
from .filtersets import TenantFilterSet
from .models import Cluster, Membership, Namespace, Operation, Role, Tenant
from .presenters import node_row, quota_rows
from .services import memberships as membership_services
from .services import namespaces as namespace_services
from .services.plans import PLAN_FIELDS, plan_update, quota_report
from .services.tenants import tenant_create


class TenantScopedMixin(LoginRequiredMixin):
    """Base for tenant pages: the tenant is resolved for the user, so others' tenants are 404, never 403."""

    def dispatch(self, request, *args, **kwargs):
        # Resolve before the method check, so every method on someone else's tenant is the same 404.
        if request.user.is_authenticated:
            self.tenant  # noqa: B018
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def tenant(self) -> Tenant:
        try:
            return selectors.tenant_get(user=self.request.user, pk=self.kwargs["pk"])
        except Tenant.DoesNotExist:
            raise Http404("No such tenant") from None

    @property
    def access(self):
        return access_for(self.request.user)

    def permissions(self) -> dict[str, bool]:
        """What the page may offer; only hides buttons, since the services decide for real."""
        tenant, access = self.tenant, self.access
        is_admin = access.has_role(tenant, Role.TENANT_ADMIN)
        parent_admin = access.has_role(tenant.parent, Role.TENANT_ADMIN) if tenant.parent_id else access.is_operator
        return {"admin": is_admin, "add_member": access.has_role(tenant, Role.MEMBER), "edit_quota": parent_admin}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "tenant": self.tenant,
                "role": self.access.role_on(self.tenant), "can": self.permissions(),
                "ancestors": selectors.tenant_ancestors(tenant=self.tenant, user=self.request.user)}


class TenantTreeView(LoginRequiredMixin, TemplateView):
    template_name = "tenants/tree.html"
    max_rows = 2000

    def get_context_data(self, **kwargs):
        access = access_for(self.request.user)
        # Only q is offered here; the API's other filters raise DRF errors the HTML page has no use for.
        filterset = TenantFilterSet(data={"q": self.request.GET.get("q", "")},
                                    queryset=selectors.tenant_list(user=self.request.user))
        tenants = list(filterset.qs[: self.max_rows])
        top = min((t.depth for t in tenants), default=1)
        return {**super().get_context_data(**kwargs), "filter": filterset,
                "query": filterset.form.cleaned_data.get("q", "") if filterset.is_valid() else "",
                "rows": [(t, access.role_on(t), t.depth - top) for t in tenants],
                "truncated": len(tenants) == self.max_rows}


class TenantDetailView(TenantScopedMixin, TemplateView):
    template_name = "tenants/detail.html"

    def get_context_data(self, **kwargs):
        tenant, user = self.tenant, self.request.user
        return {**super().get_context_data(**kwargs),
                "children": selectors.tenant_list(user=user).filter(parent=tenant),
                "namespaces": tenant.namespaces.select_related("cluster"),
                "members": selectors.membership_effective_list(tenant=tenant),
                "quota": quota_rows(quota_report(tenant=tenant, user=user))}


class TenantAuditView(TenantScopedMixin, ListView):
    template_name = "tenants/audit.html"
    paginate_by = 50
    context_object_name = "events"

    def get_queryset(self):
        return selectors.audit_event_list(user=self.request.user, tenant=self.tenant).order_by("-at", "-id")


class NamespaceMixin(TenantScopedMixin):
    """A namespace under the URL's tenant, looked up within what the user may see."""

    @cached_property
    def namespace(self) -> Namespace:
        found = (Namespace.objects.visible_to(self.request.user).select_related("cluster", "tenant")
                 .filter(tenant=self.tenant, pk=self.kwargs["namespace_pk"]).first())
        if found is None:
            raise Http404("No such namespace")
        return found


class ServiceFormView(TenantScopedMixin, FormView):
    """A form that calls one service: its ServiceError becomes a form error and nothing is stored."""

    template_name = "tenants/form.html"
    title = ""
    submit_label = "Save"
    danger = False
    permission = "admin"
    denied_hint = "You need the tenant-admin role here to do this."

    def perform(self, form):
        raise NotImplementedError

    def success(self, result) -> tuple[str, str]:
        """(message, url) after the service succeeded."""
        raise NotImplementedError

    def form_valid(self, form):
        try:
            result = self.perform(form)
        except ServiceError as exc:
            field = exc.extra.get("field")
            form.add_error(field if field in form.fields else None, exc.detail)
            return self.render_to_response(self.get_context_data(form=form), status=exc.status)
        message, url = self.success(result)
        messages.success(self.request, message)
        return HttpResponseRedirect(url)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        allowed = context["can"][self.permission]
        return {**context, "title": self.title, "submit_label": self.submit_label, "danger": self.danger,
                "denied_hint": None if allowed else self.denied_hint,
                "cancel_url": self.tenant_url()}

    def tenant_url(self, tenant: Tenant | None = None) -> str:
        return reverse("portal:tenant-detail", args=[(tenant or self.tenant).pk])


class TenantCreateView(ServiceFormView):
    form_class = forms.TenantCreateForm
    submit_label = "Create tenant"

    @property
    def title(self):
        return f"New tenant under {self.tenant.name}"

    def perform(self, form):
        return tenant_create(parent=self.tenant, actor=self.request.user, **form.cleaned_data)

    def success(self, child):
        return f"Created tenant {child.name} ({child.full_slug}).", self.tenant_url(child)


class MembershipCreateView(ServiceFormView):
    form_class = forms.MembershipCreateForm
    submit_label = "Add member"
    permission = "add_member"
    denied_hint = "You need at least the member role here to add members."

    @property
    def title(self):
        return f"Add a member to {self.tenant.name}"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "held_role": self.access.role_on(self.tenant)}

    def perform(self, form):
        data = form.cleaned_data
        return membership_services.membership_create(
            tenant=self.tenant, actor=self.request.user, role=data["role"], inherited=data["inherited"],
            username=data["user"] or None, group_name=data["group"] or None)

    def success(self, membership):
        return f"Granted {membership.role} to {membership.subject_name}.", self.tenant_url()


class MembershipScopedMixin:
    @cached_property
    def membership(self) -> Membership:
        # Only bindings made directly on this tenant; inherited ones are changed where they were made.
        found = (Membership.objects.visible_to(self.request.user).select_related("tenant", "user", "group")
                 .filter(tenant=self.tenant, pk=self.kwargs["membership_pk"]).first())
        if found is None:
            raise Http404("No such membership")
        return found

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "membership": self.membership}


class MembershipUpdateView(MembershipScopedMixin, ServiceFormView):
    template_name = "tenants/membership_edit.html"
    form_class = forms.MembershipUpdateForm
    submit_label = "Save role"

    @property
    def title(self):
        return f"Membership of {self.membership.subject_name} on {self.tenant.name}"

    def get_initial(self):
        return {"role": self.membership.role, "inherited": self.membership.inherited}

    def perform(self, form):
        return membership_services.membership_update(membership=self.membership, actor=self.request.user,
                                                      **form.cleaned_data)

    def success(self, membership):
        return f"{membership.subject_name} is now {membership.role}.", self.tenant_url()


class MembershipDeleteView(MembershipScopedMixin, ServiceFormView):
    form_class = forms.ConfirmForm
    submit_label = "Remove member"
    danger = True

    @property
    def title(self):
        return f"Remove {self.membership.subject_name} from {self.tenant.name}?"

    def perform(self, form):
        subject = self.membership.subject_name
        membership_services.membership_delete(membership=self.membership, actor=self.request.user)
        return subject

    def success(self, subject):
        return f"Removed {subject}.", self.tenant_url()


class QuotaPlanView(ServiceFormView):
    template_name = "tenants/quota_edit.html"
    form_class = forms.QuotaPlanForm
    submit_label = "Save quota plan"
    permission = "edit_quota"
    denied_hint = "Only the parent tenant's admins may change this tenant's quota plan."

    @property
    def title(self):
        return f"Quota plan of {self.tenant.name}"

    def get_form_kwargs(self):
        report = quota_report(tenant=self.tenant, user=self.request.user)["resources"]
        current = {resource: {f: values[f] for f in PLAN_FIELDS} for resource, values in report.items()}
        return {**super().get_form_kwargs(), "current": current}

    def form_valid(self, form):
        if not form.changes:
            messages.info(self.request, "Nothing changed.")
            return HttpResponseRedirect(self.tenant_url())
        return super().form_valid(form)

    def perform(self, form):
        return plan_update(tenant=self.tenant, changes=form.changes, actor=self.request.user)

    def success(self, report):
        return f"Updated the quota plan of {self.tenant.name}.", self.tenant_url()


class NamespaceCreateView(ServiceFormView):
    form_class = forms.NamespaceCreateForm
    submit_label = "Create namespace"

    @property
    def title(self):
        return f"New namespace for {self.tenant.name}"

    def perform(self, form):
        return namespace_services.namespace_create(tenant=self.tenant, actor=self.request.user, **form.cleaned_data)

    def success(self, namespace):
        return f"Created namespace {namespace.name} in {namespace.cluster.name}.", self.tenant_url()


class NamespaceDeleteView(NamespaceMixin, ServiceFormView):
    form_class = forms.NamespaceDeleteForm
    submit_label = "Delete namespace"
    danger = True

    @property
    def title(self):
        return f"Delete namespace {self.namespace.name} ({self.namespace.cluster.name})?"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs),
                "warning": "Deleting a namespace destroys every workload in it. This cannot be undone."}

    def perform(self, form):
        name = self.namespace.name
        namespace_services.namespace_delete(namespace=self.namespace, actor=self.request.user,
                                            confirm=form.cleaned_data["confirm"])
        return name

    def success(self, name):
        return f"Deleting namespace {name}: it is removed from its cluster, then from the portal.", self.tenant_url()


class NamespaceDetailView(NamespaceMixin, TemplateView):
    """Sync state, the objects the portal keeps in the namespace, and recent operations with progress."""

    template_name = "tenants/namespace.html"

    def get_context_data(self, **kwargs):
        namespace = self.namespace
        operations = list(Operation.objects.filter(target_type="tenants.namespace", target_id=str(namespace.pk))
                          .order_by("-created_at")[:10])
        return {**super().get_context_data(**kwargs), "namespace": namespace,
                "objects": namespace.managed_objects.all(), "operations": operations,
                "in_progress": any(op.state not in Operation.TERMINAL for op in operations)}

    def post(self, request, *args, **kwargs):
        """"Reconcile now": queue an Operation; the page then shows its progress."""
        try:
            operation = namespace_services.namespace_reconcile_request(namespace=self.namespace, actor=request.user)
        except ServiceError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Reconcile queued (operation #{operation.pk}).")
        return HttpResponseRedirect(request.path)


class ClusterListView(LoginRequiredMixin, TemplateView):
    """Operators: clusters, their health, and node capacity against what pods request."""

    template_name = "tenants/clusters.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not access_for(request.user).is_operator:
            raise Http404("No such page")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        clusters = Cluster.objects.prefetch_related("nodes").order_by("name")
        return {**super().get_context_data(**kwargs),
                "clusters": [(c, [node_row(n) for n in c.nodes.all()]) for c in clusters]}
