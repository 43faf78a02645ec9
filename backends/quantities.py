"""Kubernetes resource quantities ↔ the portal's canonical integers (cpu millicores, memory MiB)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
            "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15),
            "E": Decimal(10**18)}
GPU_RESOURCE_NAMES = ("nvidia.com/gpu", "amd.com/gpu")
# The number part of a quantity as the API server's parser accepts it (no NaN, Infinity, "1_000", spaces).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Numbers of 10^19 and more (int64's size) are a typo or an attack: their exact integers (1e1000000) cost
# seconds to compute and overflow every column they reach.
_MAX_EXPONENT = 18


def parse_quantity(value) -> Decimal:
    """A Kubernetes quantity ("500m", "1.5", "2Gi", "1e3") as an exact Decimal in base units."""
    text = str(value).strip()
    for suffix in sorted(_BINARY, key=len, reverse=True):
        if text.endswith(suffix):
            return _number(text[: -len(suffix)], value) * _BINARY[suffix]
    if text[-1:] in _DECIMAL and text[-1:] != "" and not text[-1:].isdigit():
        return _number(text[:-1], value) * _DECIMAL[text[-1]]
    return _number(text, value)


def _number(text: str, original) -> Decimal:
    """A finite number of sane size; ValueError (naming the original) for anything else."""
    if isinstance(original, bool) or not _NUMBER.fullmatch(text) or len(text) > 64:
        raise ValueError(f"not a Kubernetes quantity: {str(original)[:64]!r}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a Kubernetes quantity: {str(original)[:64]!r}") from None
    if not number.is_finite() or number.adjusted() > _MAX_EXPONENT:
        raise ValueError(f"quantity out of range: {str(original)[:64]!r}")
    return number


def cpu_millicores(value) -> int:
    """Rounded up, as the scheduler does: a request of 0.0001 cpu still takes 1m."""
    return math.ceil(parse_quantity(value) * 1000)


def memory_mib(value) -> int:
    return math.ceil(parse_quantity(value) / 2**20)


def format_cpu(millicores: int) -> str:
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 and mib else f"{mib}Mi"


def canonical_requests(resources: dict) -> dict[str, int]:
    """{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"} → {"cpu": 500, "memory": 1024, "gpu": 1}."""
    result: dict[str, int] = {}
    for key, value in (resources or {}).items():
        if key == "cpu":
            result["cpu"] = result.get("cpu", 0) + cpu_millicores(value)
        elif key == "memory":
            result["memory"] = result.get("memory", 0) + memory_mib(value)
        elif key in GPU_RESOURCE_NAMES:
            result["gpu"] = result.get("gpu", 0) + int(parse_quantity(value))
    return result
