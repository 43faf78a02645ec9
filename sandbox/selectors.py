"""Label selectors (=, ==, !=, in, notin, exists, !key) and field selectors (=, ==, !=)."""

from __future__ import annotations

import re

from .errors import bad_request

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` sets."""
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_labels(selector: str | None):
    """Return a predicate over a labels dict; raises 400 on syntax errors like the API server."""
    checks = []
    for term in _split(selector or ""):
        if m := _CMP.match(term):
            key, op, value = m.groups()
            checks.append(lambda labels, k=key, v=value, neg=op == "!=": (labels.get(k) == v) != neg)
        elif m := _SET.match(term):
            bang, key, op, values = m.groups()
            if op:
                allowed = {v.strip() for v in values.split(",") if v.strip()}
                if op == "in":
                    checks.append(lambda labels, k=key, a=allowed: labels.get(k) in a)
                else:
                    checks.append(lambda labels, k=key, a=allowed: labels.get(k) not in a)
            else:
                checks.append(lambda labels, k=key, neg=bool(bang): (k in labels) != neg)
        else:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    return lambda labels: all(check(labels or {}) for check in checks)


def match_label_selector(selector: dict | None, labels: dict | None) -> bool:
    """A LabelSelector object (matchLabels / matchExpressions), as used by workloads and quotas."""
    labels = labels or {}
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {"In": lambda k=key, v=values: labels.get(k) in v,
              "NotIn": lambda k=key, v=values: labels.get(k) not in v,
              "Exists": lambda k=key: k in labels,
              "DoesNotExist": lambda k=key: k not in labels}[op]()
        if not ok:
            return False
    return True


def field_value(obj: dict, path: str) -> str:
    cur = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    return str(cur).lower() if isinstance(cur, bool) else str(cur)


def parse_fields(selector: str | None):
    checks = []
    for term in _split(selector or ""):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        path, op, value = m.groups()
        checks.append(lambda obj, p=path, v=value, neg=op == "!=": (field_value(obj, p) == v) != neg)
    return lambda obj: all(check(obj) for check in checks)
