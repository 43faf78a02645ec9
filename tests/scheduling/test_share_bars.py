"""The share bar on a tenant's scheduling page (scheduling.views._bars): every amount the numbers
column states has its segment, inside the bar."""

from __future__ import annotations

import pytest

from scheduling.views import _bars


def _share(owned: int, used: int, borrowed: int, lent: int) -> dict:
    one = {"cpu": 0}
    return {"owned": {"cpu": owned}, "used": {"cpu": used}, "borrowed": {"cpu": borrowed},
            "lent_out": {"cpu": lent}, "entitlement": one, "borrowed_by": {}}


@pytest.mark.parametrize(("owned", "used", "borrowed", "lent", "expected"), [
    # used | lent | borrowed | owned marker, in % of the bar
    (8000, 4000, 0, 4000, (50, 50, 0, 100)),  # half used, the idle half lent out
    (8000, 12000, 4000, 0, (67, 0, 33, 67)),  # borrowing beyond owned
    # A parent owning 10 whose idle child (owned 6) may lend nothing, while its other child (owned 4)
    # runs 8: it uses 8 of owned 10 yet borrows 4 — all of it must show, past the owned marker.
    (10000, 8000, 4000, 0, (57, 0, 29, 71)),
    (0, 0, 0, 0, (0, 0, 0, 0)),  # owns and uses nothing: an empty bar, no division by zero
])
def test_every_amount_has_its_segment_within_the_bar(owned, used, borrowed, lent, expected):
    (row,) = _bars(_share(owned, used, borrowed, lent))["rows"]
    assert (row["used_pct"], row["lent_pct"], row["borrowed_pct"], row["owned_pct"]) == expected
    assert row["owned_pct"] + row["borrowed_pct"] <= 100 and row["used_pct"] + row["lent_pct"] <= row["owned_pct"]
