"""Amounts as a person reads them.

The engine and the API count in base units, integers (snapshot.py, docs/scheduling-policy.md):
millicores for ``cpu``, MiB for ``memory``, pods and GPUs as counts. A page or a message shows
cores (``12``, ``0.5``, ``1.25``) and MiB, or GiB when whole (``2048`` → ``2 GiB``).

The decision log keeps the engine's message as worded, amounts in base units: it is history, and
the engine's words must stay replayable. A reader gets the message worded again from its facts
with ``amount_text`` (``in_display_units``), or the stored one when that cannot be done.
"""

from __future__ import annotations

import re

from scheduling.engine import wording

MILLICORES_PER_CORE = 1000
MIB_PER_GIB = 1024


def amount_text(resource: str, amount) -> str:
    """An amount of ``resource`` in display units; anything but an integer as it is."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"{amount}"
    if resource == "cpu":
        return cores(amount)
    if resource == "memory":
        return mebibytes(amount)
    return f"{amount}"


def cores(millicores: int) -> str:
    """``12000`` → ``12``, ``500`` → ``0.5``, ``1250`` → ``1.25`` (exact: integer arithmetic)."""
    whole, rest = divmod(abs(millicores), MILLICORES_PER_CORE)
    sign = "-" if millicores < 0 else ""
    return f"{sign}{whole}" + (f".{rest:03d}".rstrip("0") if rest else "")


def mebibytes(mib: int) -> str:
    """``2048`` → ``2 GiB``, ``1536`` → ``1536 MiB``, ``0`` → ``0 MiB``."""
    if mib and mib % MIB_PER_GIB == 0:
        return f"{mib // MIB_PER_GIB} GiB"
    return f"{mib} MiB"


def amounts_text(quantities: dict) -> str:
    """``{"cpu": 1500, "memory": 2048}`` as ``1.5 cpu, 2 GiB memory``."""
    return wording.amounts(quantities, amount_text)


# ---------------------------------------------------------------- stored messages

# What the cycle's rows do not record of the decision their message came from: its action, read
# from the message's first word (a waiting request's message starts with its id).
_ACTION_BY_FIRST_WORD = {"Admitted": "ADMIT", "Reserved": "RESERVE", "Shrinking": "SHRINK", "Evicting": "EVICT",
                         "Rejected": "REJECT", "Config": "REJECT"}
_REASON_IN_TEXT = re.compile(r"\(([A-Z][A-Z_]+)\)")
# Facts of a shape the wording does not expect (an older engine's): the message is read as stored.
_UNWORDABLE = (AttributeError, IndexError, KeyError, TypeError, ValueError)


def in_display_units(stored: str, facts, readings) -> str:
    """``stored`` with its amounts in display units.

    ``readings``: the (action, reason, request) the message may have been worded from. The first
    whose engine wording is how ``stored`` begins is worded again with ``amount_text``; what the
    cycle appended to it (an enactment note) stays. A message that is not the engine's wording
    of these facts (the cycle's own, one of an older wording, a row without facts) is returned
    as stored: nothing is shown that the record does not say."""
    if not stored or not isinstance(facts, dict) or not facts:
        return stored
    for action, reason, request in readings:
        try:
            recorded = wording.message(action, reason, request, facts)
            if stored.startswith(recorded):
                return wording.message(action, reason, request, facts, amount_text) + stored[len(recorded):]
        except _UNWORDABLE:
            continue
    return stored


def request_readings(row) -> list[tuple[str, str, str]]:
    """The readings of a request row's message (``in_display_units``): the row keeps the facts
    and message of its latest decision but not that decision's action, nor its reason when the
    request was the victim; the message names both."""
    first = row.message.split(" ", 1)[0]
    action = _ACTION_BY_FIRST_WORD.get(first, "PENDING")
    reasons = dict.fromkeys([row.reason, *_REASON_IN_TEXT.findall(row.message)])
    return [(action, reason, row.key) for reason in reasons]
