"""Amounts in the portal's messages read in display units (scheduling/units.py).

The engine words its messages in base units (millicores, MiB, pods, GPUs) and the decision log
keeps them so; each reader gets them worded again from the recorded facts in cores and GiB, with
the names they may not see replaced as before (redact.py). A message that is not the engine's
wording of its facts is read as stored.
"""

from __future__ import annotations

import json

import pytest

from scheduling.engine.wording import message
from scheduling.models import SchedulingDecision, SchedulingRequest
from scheduling.redact import Redactor
from scheduling.units import amount_text, cores, in_display_units, mebibytes
from tenants.models import Namespace

SHRINK_NOTE = " Enacted: the gang's newest pods beyond 2 are evicted; b-apps/web stays gated until they are gone."


@pytest.mark.parametrize(("millicores", "read"), [(12000, "12"), (500, "0.5"), (1250, "1.25"), (1, "0.001"),
                                                  (0, "0"), (-1500, "-1.5"), (10010, "10.01")])
def test_cores(millicores, read):
    assert cores(millicores) == read


@pytest.mark.parametrize(("mib", "read"), [(2048, "2 GiB"), (1536, "1536 MiB"), (1024, "1 GiB"), (0, "0 MiB"),
                                           (100, "100 MiB")])
def test_mebibytes(mib, read):
    assert mebibytes(mib) == read


def test_counts_and_anything_but_an_integer_read_as_they_are():
    assert [amount_text("pods", 110), amount_text("gpu", 2), amount_text("cpu", None),
            amount_text("cpu", True), amount_text("cpu", "1/4")] == ["110", "2", "None", "True", "1/4"]


def _binding(**numbers) -> dict:
    return {"binding": {"available": 0, **numbers}}


# (action, reason, request, facts with {a}/{b} for the nodes' ids, what the stored message has after the
# engine's words, what an operator reads)
MESSAGES = [
    ("PENDING", "PENDING_BORROW_LIMIT", "a-apps/b13",
     _binding(node="{a}", resource="cpu", kind="borrow_limit", used=12000, owned=8000, borrow_limit=4000,
              needed=1000), "",
     "a-apps/b13 waits: tenant org/a uses 12 of owned 8 + borrow limit 4 cpu; it needs 1, 0 available."),
    ("PENDING", "PENDING_MAX", "a-apps/b13",
     _binding(node="{a}", resource="cpu", kind="max", used=1250, max=1500, needed=500, available=250), "",
     "a-apps/b13 waits: tenant org/a uses 1.25 of max 1.5 cpu; it needs 0.5, 0.25 available."),
    ("PENDING", "PENDING_NO_CAPACITY", "a-apps/b13",
     _binding(node="root", resource="memory", kind="capacity", used=14848, owned=16384, free=1536, needed=2048), "",
     "a-apps/b13 waits: the cluster has 1536 MiB memory free (14848 MiB used of 16 GiB); it needs 2 GiB."),
    ("PENDING", "PENDING_LEND_LIMIT", "a-apps/b13",
     _binding(node="root", resource="pods", kind="lend_limit", via="{b}#self", used=100, owned=110, free=0,
              lend_limit=2, lender_unused=10, needed=3), "",
     "a-apps/b13 waits: the cluster has 0 pods free (100 used of 110) and tenant org/b (its own namespaces) may "
     "lend only 2 of its 10 unused; it needs 3."),
    ("PENDING", "PENDING_NO_VICTIMS", "a-apps/b13",  # the engine's other words stay as they are
     {"binding": {"node": "{a}", "resource": "cpu", "kind": "owned", "used": 7500, "owned": 8000, "needed": 750,
                  "available": 500}, "gates": ["example.com/license"]}, "",
     "a-apps/b13 waits: tenant org/a uses 7.5 of owned 8 cpu; it needs 0.75, 0.5 available. No running pod may be "
     "preempted for it. Admission checks to pass: example.com/license."),
    ("ADMIT", "ADMITTED_BORROWING", "a-apps/train",
     {"leaf": "{a}", "path": ["{a}", "{org}", "root"], "lender_scope": "root", "borrowed": {"gpu": 1},
      "per_node": {"{org}": {"owned": {"gpu": 2}, "used_after": {"gpu": 3}, "borrow_limit": {"gpu": 2}}}}, "",
     "Admitted a-apps/train by borrowing 1 gpu under the cluster (tenant org uses 3 of owned 2 + borrow limit 2 "
     "gpu)."),
    ("ADMIT", "ADMITTED_BORROWING", "a-apps/b13",
     {"leaf": "{a}", "path": ["{a}", "{org}", "root"], "lender_scope": "{org}",
      "borrowed": {"cpu": 1500, "memory": 2048},
      "per_node": {"{a}": {"owned": {"cpu": 8000, "memory": 8192}, "used_after": {"cpu": 9500, "memory": 10240},
                           "borrow_limit": {"cpu": 4000}}}}, "",
     "Admitted a-apps/b13 by borrowing 1.5 cpu, 2 GiB memory under tenant org (tenant org/a uses 9.5 of owned 8 + "
     "borrow limit 4 cpu and 10 GiB of owned 8 GiB memory)."),
    ("REJECT", "REJECT_NEVER_FITS", "a-apps/big",
     _binding(node="{a}", resource="memory", needed=65536, available=32768), "",
     "Rejected a-apps/big: it needs 64 GiB memory, more than tenant org/a can ever provide (32 GiB)."),
    ("EVICT", "EVICT_QUOTA_DECREASE", None,
     {"victim": "a-apps/b1", "node": "{a}", "delay": 30, "max": {"cpu": 4000}, "used_before": {"cpu": 6500},
      "used_after": {"cpu": 5500}}, "",
     "Evicting a-apps/b1 (EVICT_QUOTA_DECREASE): tenant org/a has used more than its max 4 cpu for at least 30 s "
     "(6.5 cpu before this eviction, 5.5 cpu after)."),
    ("EVICT", "EVICT_FAIR_SHARE", None,
     {"victim": "a-apps/b1", "preemptor": "b-apps/web", "victim_node": "{a}", "preemptor_node": "{b}",
      "used_before": {"cpu": 12000, "memory": 3072}, "used_after": {"cpu": 11000, "memory": 2048},
      "owned": {"cpu": 8000, "memory": 2048}, "borrow_limit": {"cpu": 4000},
      "drs_victim_side_before": "1/4", "drs_victim_side": "3/16", "drs_preemptor_side": "1/8"}, "",
     "Evicting a-apps/b1 (EVICT_FAIR_SHARE) for b-apps/web: tenant org/a was borrowing: it used 12 of owned 8 + "
     "borrow limit 4 cpu and 3 GiB of owned 2 GiB memory before this eviction, 11 cpu and 2 GiB memory after; its "
     "DRS goes from 1/4 to 3/16, that of tenant org/b with b-apps/web is 1/8."),
    ("SHRINK", "EVICT_RECLAIM_OWNED", "a-apps/train",  # the cycle's note after the engine's words stays
     {"from": {"cpu": 4000}, "to": {"cpu": 2000}, "preemptor": "b-apps/web", "victim_node": "{a}",
      "used_before": {"cpu": 12000}, "used_after": {"cpu": 10000}, "owned": {"cpu": 8000},
      "borrow_limit": {"cpu": 4000}}, SHRINK_NOTE,
     "Shrinking a-apps/train from 4 cpu to 2 cpu (EVICT_RECLAIM_OWNED) for b-apps/web instead of evicting it: "
     "tenant org/a was borrowing: it used 12 of owned 8 + borrow limit 4 cpu before this shrink, 10 after."
     + SHRINK_NOTE),
]


@pytest.fixture
def names(tree, cluster):
    for tenant, ns in ((tree["a"], "a-apps"), (tree["b"], "b-apps")):
        Namespace.objects.create(tenant=tenant, cluster=cluster, name=ns)
    return {"org": f"t{tree['org'].pk}", "a": f"t{tree['a'].pk}", "b": f"t{tree['b'].pk}"}


def _recorded(names, action, reason, request, facts, note="") -> SchedulingDecision:
    """A decision as the cycle stores it: the engine's facts and message (base units), and its note."""
    for short, node in names.items():
        facts = json.loads(json.dumps(facts).replace("{" + short + "}", node))
    victim, preemptor = facts.get("victim", ""), facts.get("preemptor", "")
    return SchedulingDecision(cluster_id=Namespace.objects.first().cluster_id, action=action, reason=reason,
                              request=request or "", victim=victim, preemptor=preemptor, facts=facts,
                              message=message(action, reason, request, facts) + note)


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "reason", "key", "facts", "note", "read"), MESSAGES,
                         ids=[f"{m[1]}-{i}" for i, m in enumerate(MESSAGES)])
def test_a_decision_reads_in_display_units(names, action, reason, key, facts, note, read):
    d = _recorded(names, action, reason, key, facts, note)
    assert Redactor.for_operators().decision_message(d) == read


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "reason", "key", "facts", "note", "read"),
                         [m for m in MESSAGES if m[0] in ("PENDING", "ADMIT", "EVICT", "REJECT")],
                         ids=lambda v: v if isinstance(v, str) and v.isupper() and "_" in v else None)
def test_a_request_reads_its_latest_decision_in_display_units(names, action, reason, key, facts, note, read):
    """The request row keeps its latest decision's facts and message, not its action: an evicted
    pod's row has its own state's reason, the message the eviction's."""
    d = _recorded(names, action, reason, key, facts, note)
    key = key or d.victim
    row = SchedulingRequest(cluster_id=d.cluster_id, key=key, reason="EVICTED" if action == "EVICT" else reason,
                            message=d.message, facts=d.facts)
    assert Redactor.for_operators().request_message(row) == read


@pytest.mark.django_db
def test_other_tenants_stay_unnamed_and_their_numbers_read_in_display_units(names, charlie):
    """charlie sees team B only: team A's request and tenant read anonymously, the numbers stay."""
    d = _recorded(names, *MESSAGES[0][:4])
    assert Redactor(charlie).decision_message(d) == (
        "another tenant's workload waits: another tenant uses 12 of owned 8 + borrow limit 4 cpu; it needs 1, "
        "0 available.")
    d = _recorded(names, *MESSAGES[9][:4])
    assert Redactor(charlie).decision_message(d) == (
        "Evicting another tenant's workload (EVICT_FAIR_SHARE) for b-apps/web: another tenant was borrowing: it used "
        "12 of owned 8 + borrow limit 4 cpu and 3 GiB of owned 2 GiB memory before this eviction, 11 cpu and 2 GiB "
        "memory after; its DRS goes from 1/4 to 3/16, that of tenant org/b with b-apps/web is 1/8.")


@pytest.mark.django_db
@pytest.mark.parametrize(("stored", "facts"), [
    # an older wording of the same facts
    ("a-apps/b13: PENDING_BORROW_LIMIT at {a} (cpu: 0 available, 1000 needed).",
     _binding(node="{a}", resource="cpu", kind="borrow_limit", used=12000, owned=8000, borrow_limit=4000,
              needed=1000)),
    # no facts recorded
    ("a-apps/b13 waits: {a} uses 12000 of owned 8000 + borrow limit 4000 cpu; it needs 1000, 0 available.", {}),
    # facts the wording cannot read
    ("a-apps/b13 waits: {a} uses 12000 of owned 8000 + borrow limit 4000 cpu; it needs 1000, 0 available.",
     {"binding": {"node": "{a}", "used": 12000}}),
    # the cycle's own words (shrinks.rows), with the facts of the decision before them
    ("Running 2 of 4 pods: gang a-apps/train was shrunk to 2 by owned reclaim.",
     {"from": {"cpu": 4000}, "to": {"cpu": 2000}}),
])
def test_a_message_that_is_not_the_wording_of_its_facts_reads_as_stored(names, stored, facts):
    stored = stored.replace("{a}", names["a"])
    facts = json.loads(json.dumps(facts).replace("{a}", names["a"]))
    d = SchedulingDecision(cluster_id=Namespace.objects.first().cluster_id, action="PENDING",
                           reason="PENDING_BORROW_LIMIT", request="a-apps/b13", facts=facts, message=stored)
    assert Redactor.for_operators().decision_message(d) == stored.replace(names["a"], "tenant org/a")


def test_the_engine_words_amounts_as_it_holds_them():
    """The engine stays unit-agnostic: without ``amount_text`` its words are the recorded ones."""
    facts = {"binding": {"node": "t2", "resource": "cpu", "kind": "borrow_limit", "used": 12000, "owned": 8000,
                         "borrow_limit": 4000, "needed": 1000, "available": 0}}
    assert message("PENDING", "PENDING_BORROW_LIMIT", "t2-apps/b13", facts) == (
        "t2-apps/b13 waits: t2 uses 12000 of owned 8000 + borrow limit 4000 cpu; it needs 1000, 0 available.")
    assert in_display_units(message("PENDING", "PENDING_BORROW_LIMIT", "t2-apps/b13", facts), facts,
                            [("PENDING", "PENDING_BORROW_LIMIT", "t2-apps/b13")]) == (
        "t2-apps/b13 waits: t2 uses 12 of owned 8 + borrow limit 4 cpu; it needs 1, 0 available.")
