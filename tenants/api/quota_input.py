"""Strict parsing of quota bodies: integers only, known resources and fields, Keystone's range."""

from __future__ import annotations

from bluedock_portal.errors import InvalidInput
from tenants.models import RESOURCES
from tenants.models.plans import MAX_QUANTITY
from tenants.services.plans import PLAN_FIELDS

NULLABLE = {"limit", "borrow_limit", "lend_limit"}


def parse_quota_changes(data) -> dict[str, dict[str, int | None]]:
    if not isinstance(data, dict) or not data:
        raise InvalidInput("Send an object keyed by resource, e.g. {\"cpu\": {\"owned\": 8000}}.",
                           code="quota_invalid")
    changes: dict[str, dict[str, int | None]] = {}
    for resource, fields in data.items():
        if resource not in RESOURCES:
            raise InvalidInput(f"Unknown resource '{resource}'; known resources are {', '.join(RESOURCES)}.",
                               code="unknown_resource", resource=resource)
        if not isinstance(fields, dict):
            raise InvalidInput(f"{resource}: expected an object of {', '.join(PLAN_FIELDS)}.",
                               code="quota_invalid", resource=resource)
        parsed: dict[str, int | None] = {}
        for name, value in fields.items():
            if name not in PLAN_FIELDS:
                raise InvalidInput(f"{resource}: unknown field '{name}'; use {', '.join(PLAN_FIELDS)}.",
                                   code="quota_invalid", resource=resource, field=name)
            parsed[name] = _quantity(resource, name, value)
        changes[resource] = parsed
    return changes


def _quantity(resource: str, name: str, value) -> int | None:
    where = f"{resource}.{name}"
    if value is None:
        if name in NULLABLE:
            return None
        raise InvalidInput(f"{where} may not be null.", code="quota_invalid", resource=resource, field=name)
    # bool is an int in Python; floats (even 8000.0) are refused so no fraction is silently dropped.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where} must be a whole number in {RESOURCES[resource]}, got {value!r}.",
                           code="quota_invalid", resource=resource, field=name)
    if value < 0 or value > MAX_QUANTITY:
        raise InvalidInput(f"{where} must be between 0 and {MAX_QUANTITY}, got {value}.",
                           code="quota_invalid", resource=resource, field=name)
    return value
