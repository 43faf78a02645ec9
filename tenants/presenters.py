"""Shaping service results for templates: plain data in, plain data out (no queries)."""

from __future__ import annotations


def _percent(value: int, scale: int) -> float:
    return round(min(100.0, 100.0 * value / scale), 1) if scale else 0.0


def quota_rows(report: dict) -> list[dict]:
    """One row per resource with bar geometry: used fills the bar, owned is a marker.

    The bar's full width is the limit when there is one, else the larger of owned and
    used, so an unlimited resource still shows used against owned.
    """
    rows = []
    for resource, r in report["resources"].items():
        used, owned, limit = r["subtree_used"], r["owned"], r["limit"]
        scale = max(limit or 0, owned, used)
        rows.append({
            "resource": resource, "unit": r["unit"], "used": used, "owned": owned, "limit": limit,
            "borrow_limit": r["borrow_limit"], "lend_limit": r["lend_limit"],
            "headroom": r["headroom"], "limiting_tenant": r["limiting_tenant"],
            "effective_limit": r["effective_limit"], "over_limit": r["over_limit"],
            "used_pct": _percent(used, scale), "owned_pct": _percent(owned, scale),
        })
    return rows


def node_row(node) -> dict:
    """One node's bars: requested against allocatable, per resource, as percentages for the template."""
    bars = []
    for resource, unit in (("cpu", "m"), ("memory", "MiB"), ("pods", "")):
        allocatable = node.allocatable.get(resource, 0)
        requested = node.requested.get(resource, 0)
        percent = min(100, round(100 * requested / allocatable)) if allocatable else 0
        bars.append({"resource": resource, "unit": unit, "allocatable": allocatable, "requested": requested,
                     "percent": percent, "full": allocatable and requested >= allocatable})
    return {"node": node, "bars": bars}
