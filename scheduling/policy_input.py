"""Strict parsing of scheduling policy and settings input: each field's type and range (spec §10.2).

Every refusal is an ``InvalidInput`` naming the field, with a code a client can act on:
``policy_invalid`` (not an object, or empty), ``unknown_field``, ``read_only_field``,
``invalid_choice`` (with ``allowed``), ``invalid_integer`` (with ``min``/``max``),
``invalid_boolean``, ``invalid_fraction``, ``out_of_range``, ``invalid_strategies``,
``invalid_check_name``, ``reserved_check_name``, ``duplicate_check_name``, ``too_many_checks``.
Whole numbers are refused as strings or floats (``"30"``, ``30.0``), as the quota API does, so
nothing is silently converted. The result maps model field names to clean values; combinations
(and the engine's own validation) are checked by ``scheduling.policy`` before saving.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from bluedock_portal.errors import InvalidInput
from scheduling.engine.model import (
    BORROW_PREEMPT_POLICIES,
    PREFERENCES,
    QUEUEINGS,
    RECLAIM_POLICIES,
    WITHIN_POLICIES,
)

INT32 = (-(2**31), 2**31 - 1)  # Kubernetes pod priorities are int32
YEAR = 365 * 24 * 3600  # no delay or grace of the engine means anything beyond this
DAY = 24 * 3600
MAX_WEIGHT = 1000
MAX_CHECKS = 16
# Gates under our own domain are the portal's (bluedock.io/admission is removed by the cycle);
# a required check there would be removed by nobody, or by us, and never mean a real check.
RESERVED_GATE_PREFIX = "bluedock.io/"
STRATEGIES = ("S2a", "S2b")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,12})?$")  # a sign, so "-2" is out of range, not garbage
_RATIO = re.compile(r"^-?\d{1,12}/\d{1,12}$")

Parser = Callable[[str, Any], Any]


def _fail(field: str, message: str, code: str, **facts) -> None:
    raise InvalidInput(f"{field}: {message}", code=code, field=field, **facts)


def choice(values: tuple[str, ...]) -> Parser:
    def parse(field: str, value):
        if not isinstance(value, str) or value not in values:
            _fail(field, f"expected one of {', '.join(values)}, got {value!r}.", "invalid_choice",
                  allowed=list(values))
        return value

    return parse


def integer(low: int, high: int, *, nullable: bool = False, unit: str = "") -> Parser:
    def parse(field: str, value):
        if value is None and nullable:
            return None
        # bool is an int in Python; floats (even 30.0) and strings are refused, nothing is converted.
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            null = " or null" if nullable else ""
            _fail(field, f"expected a whole number{unit} between {low} and {high}{null}, got {value!r}.",
                  "invalid_integer", min=low, max=high)
        return value

    return parse


def boolean(field: str, value) -> bool:
    if not isinstance(value, bool):
        _fail(field, f"expected true or false, got {value!r}.", "invalid_boolean")
    return value


def fraction(low: Fraction, high: Fraction, *, low_open: bool = False, high_open: bool = False,
             nullable: bool = False) -> Parser:
    """An exact rational (the engine compares with Fractions, N1): "3/2", "1.5", 1.5 or 2; stored as "3/2"."""
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"

    def parse(field: str, value):
        if value is None and nullable:
            return None
        number = _rational(value)
        if number is None:
            _fail(field, f"expected a fraction such as \"3/2\" or a decimal such as \"1.5\", got {value!r}.",
                  "invalid_fraction")
        if number < low or number > high or (low_open and number == low) or (high_open and number == high):
            _fail(field, f"must be in {interval}, got {number}.", "out_of_range", min=str(low), max=str(high))
        return str(number)

    return parse


def _rational(value) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value)) if math.isfinite(value) else None  # str: 0.1 means 1/10, not its binary
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.match(text) or (_RATIO.match(text) and not re.search(r"/0+$", text)):
            return Fraction(text)
    return None


def check_names(field: str, value) -> list[str]:
    """Scheduling gate names (Kubernetes qualified names): unique, at most MAX_CHECKS, not ours."""
    if not isinstance(value, list):
        _fail(field, f"expected a list of gate names such as [\"example.com/budget-approved\"], got {value!r}.",
              "invalid_check_name")
    if len(value) > MAX_CHECKS:
        _fail(field, f"at most {MAX_CHECKS} checks, got {len(value)}.", "too_many_checks", max=MAX_CHECKS)
    seen: set[str] = set()
    for name in value:
        if not isinstance(name, str) or not _qualified_name(name):
            _fail(field, f"{name!r} is not a Kubernetes qualified name (an optional DNS subdomain prefix and '/', "
                  "then at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric).",
                  "invalid_check_name", name=name if isinstance(name, str) else None)
        if name.startswith(RESERVED_GATE_PREFIX):
            _fail(field, f"{name!r}: gates under {RESERVED_GATE_PREFIX} belong to the portal itself.",
                  "reserved_check_name", name=name)
        if name in seen:
            _fail(field, f"{name!r} is listed twice.", "duplicate_check_name", name=name)
        seen.add(name)
    return list(value)


def _qualified_name(text: str) -> bool:
    prefix, slash, name = text.rpartition("/")
    # fullmatch, not match: Python's '$' lets a final newline through, Kubernetes' does not.
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))


def strategies(field: str, value) -> list[str]:
    if (not isinstance(value, list) or not value or len(set(map(str, value))) != len(value)
            or not set(value) <= set(STRATEGIES)):
        _fail(field, f"expected a non-empty list of distinct values from {', '.join(STRATEGIES)}, got {value!r}.",
              "invalid_strategies", allowed=list(STRATEGIES))
    return [s for s in STRATEGIES if s in value]  # one spelling per set, so the config digest is stable


POLICY_FIELDS: dict[str, Parser] = {
    "weight": fraction(Fraction(0), Fraction(MAX_WEIGHT)),
    "share_tier": integer(-1000, 1000),
    "reclaim_policy": choice(RECLAIM_POLICIES),
    "within_policy": choice(WITHIN_POLICIES),
    "borrow_preempt_policy": choice(BORROW_PREEMPT_POLICIES),
    "borrow_preempt_max_priority_threshold": integer(*INT32, nullable=True),
    "fence": boolean,
    "lendout_grace": integer(0, YEAR, nullable=True, unit=" of seconds"),
    "reclaim_delay": integer(0, YEAR, unit=" of seconds"),
    "fairshare_delay": integer(0, YEAR, unit=" of seconds"),
    "min_runtime_fairshare": integer(0, YEAR, nullable=True, unit=" of seconds"),
    "queueing": choice(QUEUEINGS),
    "quota_preemption_delay": integer(0, YEAR, unit=" of seconds"),
    "required_checks": check_names,
}
SETTINGS_FIELDS: dict[str, Parser] = {
    "fair_share_preemption": boolean,
    "fs_strategies": strategies,
    "fs_epsilon": fraction(Fraction(0), Fraction(1), high_open=True),
    "fs_budget": fraction(Fraction(0), Fraction(1), low_open=True, nullable=True),
    "fs_budget_window": integer(1, DAY, unit=" of seconds"),
    "release_slack": integer(0, DAY, unit=" of seconds"),
    "borrowing_preference": choice(PREFERENCES),
    "preempted_priority_boost": integer(0, INT32[1]),
}
# The API nests borrow_preempt as the engine does ({policy, max_priority_threshold}).
BORROW_PREEMPT_KEYS = {"policy": "borrow_preempt_policy",
                       "max_priority_threshold": "borrow_preempt_max_priority_threshold"}
POLICY_API_FIELDS = sorted({*POLICY_FIELDS, "borrow_preempt"} - set(BORROW_PREEMPT_KEYS.values()))
POLICY_READ_ONLY = {"tenant", "tenant_path", "is_default", "effective_required_checks", "updated_at"}
SETTINGS_READ_ONLY = {"is_default", "updated_at"}


def parse_fields(values: dict, table: dict[str, Parser]) -> dict:
    """Model field name → clean value, for a dict already keyed by model field names (the admin's forms)."""
    return {name: table[name](name, value) for name, value in values.items()}


def parse_policy_body(data) -> dict:
    """A PATCH body of /tenants/{id}/scheduling-policy/ → model field changes."""
    flat = {}
    for name, value in _object(data).items():
        if name == "borrow_preempt":
            if not isinstance(value, dict) or not value:
                _fail(name, "expected an object with policy and/or max_priority_threshold.", "policy_invalid")
            for key, inner in value.items():
                if key not in BORROW_PREEMPT_KEYS:
                    _fail(f"borrow_preempt.{key}", "unknown field; use policy or max_priority_threshold.",
                          "unknown_field")
                flat[BORROW_PREEMPT_KEYS[key]] = (f"borrow_preempt.{key}", inner)
        else:
            _known(name, POLICY_API_FIELDS, POLICY_READ_ONLY)
            flat[name] = (name, value)
    return {model_field: POLICY_FIELDS[model_field](shown, value) for model_field, (shown, value) in flat.items()}


def parse_settings_body(data) -> dict:
    """A PATCH body of /scheduling/settings/ → model field changes."""
    for name in _object(data):
        _known(name, sorted(SETTINGS_FIELDS), SETTINGS_READ_ONLY)
    return parse_settings_fields(data)


def parse_settings_fields(values: dict) -> dict:
    """Settings keyed by model field names → clean values; no budget (null) is stored as ""."""
    changes = parse_fields(values, SETTINGS_FIELDS)
    if "fs_budget" in changes and changes["fs_budget"] is None:
        changes["fs_budget"] = ""
    return changes


def _object(data) -> dict:
    if not isinstance(data, dict) or not data:
        raise InvalidInput("Send an object with the fields to change, e.g. {\"queueing\": \"StrictFIFO\"}.",
                           code="policy_invalid")
    return data


def _known(name: str, known: list[str], read_only: set[str]) -> None:
    if name in read_only:
        _fail(name, "is read-only.", "read_only_field")
    if name not in known:
        _fail(name, f"unknown field; known fields are {', '.join(known)}.", "unknown_field")
