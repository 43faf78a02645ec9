from rest_framework.pagination import CursorPagination


class PortalCursorPagination(CursorPagination):
    """Stable cursor pages; views choose ``ordering`` (tenants page in tree order)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"


class TreeOrderPagination(PortalCursorPagination):
    """Tenants page in tree order: a parent comes before its children."""

    ordering = "path"
