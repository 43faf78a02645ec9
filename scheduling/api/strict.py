"""What the scheduling API refuses that DRF would let through: query parameters an endpoint does not
read, a malformed page size, a tenant id in the path that is not an id.

A parameter an endpoint ignores is worse than one it refuses: ``?stat=Pending`` (misspelt) or
``?page=2`` (another API's paging) would answer the unfiltered first page, which looks like a
real answer. So every scheduling endpoint names the parameters it reads, and answers 400 for any
other, naming it and the ones it reads.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from bluedock_portal.errors import NotFound
from tenants import selectors as tenant_selectors
from tenants.models import Tenant

BAD_QUERY = {400: OpenApiResponse(description="invalid: a query parameter this endpoint does not read, or a "
                                              "value outside its allowed values (the error names the parameter)")}
NOT_VISIBLE = {404: OpenApiResponse(description="not_found: no such id, or not visible to you")}
TENANT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="A tenant id.")
# The router's lookup, so a malformed id reaches the view and answers a 404 problem like any other
# API object, not the site's HTML 404 page.
TENANT_ID_PATTERN = r"(?P<pk>[^/.]+)"


class KnownQueryParams:
    """Views: refuse query parameters the endpoint does not read (see the module's docstring).

    A list reads its filterset's filters and the paginator's parameters; everything else (an
    object, its actions, the share, the policy) reads none but DRF's ``format``. The check comes
    after what the house answers first: 401 before anything, and on an object 404 (not visible)
    and 403 (no right to change it) before judging the request, so a refusal reveals nothing.
    Lists are checked here; object routes of a viewset when the object is found (``get_object``);
    an APIView calls ``check_query_params`` itself once it has found its object and checked rights.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self._lists():
            self.check_query_params(request)

    def get_object(self):
        found = super().get_object()
        self.check_query_params(self.request)
        return found

    def filter_queryset(self, queryset):
        # DRF also filters an object route's lookup: ?state=Admitted would make an object 404.
        # An object route reads no filters; check_query_params refuses them instead.
        return super().filter_queryset(queryset) if self._lists() else queryset

    def check_query_params(self, request) -> None:
        known = self.query_params_read()
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            reads = ", ".join(sorted(known))
            raise ValidationError({name: [f"Unknown parameter; this endpoint reads only: {reads}."]
                                   for name in unknown})
        paginator = self.paginator if self._lists() else None
        if paginator is not None and paginator.page_size_query_param in request.query_params:
            _check_page_size(request.query_params[paginator.page_size_query_param], paginator)

    def query_params_read(self) -> set[str]:
        names = {api_settings.URL_FORMAT_OVERRIDE}
        if self._lists():
            names |= set(self.filterset_class.base_filters)
            if self.paginator is not None:
                names |= {self.paginator.cursor_query_param, self.paginator.page_size_query_param}
        return names

    def _lists(self) -> bool:
        return getattr(self, "action", None) == "list"


def _check_page_size(raw: str, paginator) -> None:
    # The paginator reads a bad page size as "the default" (and more than the maximum as the maximum).
    if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
        raise ValidationError({paginator.page_size_query_param: [
            f"Expected a whole number ≥ 1 (a page holds at most {paginator.max_page_size})."]})


def visible_tenant(user, raw_pk: str) -> Tenant:
    """The tenant ``raw_pk`` names if ``user`` may see it; 404 alike when it does not exist, is not
    visible or is no id at all, so the answer reveals nothing."""
    try:
        if raw_pk.isascii() and raw_pk.isdigit():
            return tenant_selectors.tenant_get(user=user, pk=int(raw_pk))
    except Tenant.DoesNotExist:
        pass
    raise NotFound(f"Tenant {raw_pk} does not exist.")
