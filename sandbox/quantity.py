"""Kubernetes resource quantities: parse "500m", "1.5", "2Gi", "100M"; print them canonically."""

from __future__ import annotations

from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}


def parse(text) -> Fraction:
    text = str(text).strip()
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return Fraction(text[: -len(suffix)]) * factor
    if text and text[-1] in _DECIMAL and text[-1] not in "0123456789":
        return Fraction(text[:-1]) * _DECIMAL[text[-1]]
    if "e" in text.lower():
        return Fraction(float(text)).limit_denominator(10**9)
    return Fraction(text)


def is_binary(text) -> bool:
    return any(str(text).endswith(s) for s in _BINARY)


def format(value: Fraction, *, binary: bool = False) -> str:  # noqa: A001 - mirrors Quantity.String()
    """Canonical form: the largest suffix that keeps the number whole (binary only for whole values)."""
    if value == 0:
        return "0"
    if binary and value.denominator == 1:
        for suffix, factor in reversed(list(_BINARY.items())):
            if value % factor == 0:
                return f"{value // factor}{suffix}"
        return str(value.numerator)
    for suffix in ("E", "P", "T", "G", "M", "k", "", "m", "u", "n"):
        scaled = value / _DECIMAL[suffix]
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    return f"{-(-value.numerator * 10**9 // value.denominator)}n"  # rounds up, as Kubernetes does


def fmt_like(value: Fraction, template) -> str:
    return format(value, binary=is_binary(template))
