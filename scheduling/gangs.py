"""Gangs: pods annotated ``bluedock.io/gang`` that the engine admits as one request, all or none.

    bluedock.io/gang: train         the gang's name, unique in its namespace
    bluedock.io/gang-size: "12"     how many pods it has; it is one request once they all exist
    bluedock.io/gang-min: "8"       optional: the fewest pods it can run with (an elastic gang)

An elastic gang may be shrunk (P4) instead of evicted when a lender takes its share back: the
engine's ``elastic_min`` is the per-pod demand times gang-min, since every pod of a gang is
taken to ask for the same (a gang whose pods differ cannot give up "a pod's worth", so its
gang-min is refused).  Annotations are user input: a malformed or out-of-range value never
stops a pass; it is ignored and a one-line note says why (shown with the request, logged once).
"""

from __future__ import annotations

import re

from . import snapshot as snap

_COUNT = re.compile(r"^\s*[0-9]{1,9}\s*$")  # ASCII digits: int() would take "８" too
# The gang's name stands where a pod's would: in the request id, in the records (which hold
# object names, at most 253 characters) and in the prose that names it, where redact.py must find
# the whole id (word characters, '-' and '.'; no spaces).
_NAME = re.compile(r"^\w(?:[\w.\-]*\w)?$")
NAME_MAX = 253


def gang_of(pod) -> tuple[str | None, list[str]]:
    """The pod's gang, or None: no gang, or a name the records cannot hold or the explanations
    cannot name (the pod is then a request of its own, and a note says why)."""
    value = pod.annotations.get(snap.GANG)
    if not value:
        return None, []
    if len(value) <= NAME_MAX and _NAME.fullmatch(value):  # not match: its '$' would let a final newline in
        return value, []
    shown = value if len(value) <= 63 else f"{value[:60]}…"
    return None, [f"{snap.GANG} {shown!r} ignored: a gang's name is letters, digits, '_', '-' and '.', neither "
                  f"first nor last a '-' or '.', at most {NAME_MAX} characters."]


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and _COUNT.match(value) else None


def gang_size(pods) -> tuple[int, list[str]]:
    """The gang's size: the largest usable gang-size among its pods (they differ while a rolling
    update changes it), 1 when there is none; and a note per value it ignored."""
    sizes, notes = [1], []
    for value in sorted({v for p in pods if (v := p.annotations.get(snap.GANG_SIZE))}):
        size = _count(value)
        if size is None or size < 1:
            notes.append(f"{snap.GANG_SIZE} {value!r} ignored: it must be a whole number of pods, at least 1.")
        else:
            sizes.append(size)
    return max(sizes), notes


def gang_min(pods, size: int, *, gated: bool) -> tuple[int | None, list[str]]:
    """The pods a gang may shrink to (None: not elastic), and notes on a gang-min it ignored.

    ``gated``: the gang waits for the portal's admission gate.  A gang that does not (adopted,
    running before the portal) cannot be shrunk: its controller would recreate the pods it gives
    up, running at once."""
    values = {p.annotations.get(snap.GANG_MIN) for p in pods}
    if values == {None}:
        return None, []
    if len(values) > 1:
        shown = ", ".join(sorted(repr(v) if v is not None else "absent" for v in values))
        return None, [f"{snap.GANG_MIN} ignored: the gang's pods disagree ({shown})."]
    (value,) = values
    ignored = f"{snap.GANG_MIN} {value!r} ignored"
    if not any(snap.GANG in p.annotations for p in pods):
        return None, [f"{ignored}: the pod is not in a gang (no {snap.GANG} annotation)."]
    minimum = _count(value)
    if minimum is None or minimum < 1:
        return None, [f"{ignored}: it must be a whole number of pods, at least 1."]
    if minimum > size:
        return None, [f"{ignored}: more than the gang's {snap.GANG_SIZE} {size}."]
    if len({tuple(sorted(p.requests.items())) for p in pods}) > 1:
        return None, [f"{ignored}: the gang's pods do not all ask for the same resources, so it cannot "
                      f"give up whole pods."]
    if not gated:
        return None, [f"{ignored}: the gang's pods do not wait for the {snap.GATE} gate, so pods it gave up "
                      f"would be recreated running."]
    return (minimum if minimum < size else None), []


def per_pod(pod, resources: tuple[str, ...]) -> dict[str, int]:
    """One pod's demand in the engine's resources (``pods`` counts the pod itself)."""
    return {r: 1 if r == "pods" else pod.requests.get(r, 0) for r in resources}
