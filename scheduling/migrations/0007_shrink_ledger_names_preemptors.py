"""The shrink ledger kept who a gang was shrunk for ("by") only when the preemptor was of the
gang's own tenant, and "" otherwise; the request rows it writes now name the preemptor by its id
and each reader gets it named for them (scheduling/shrinks.py, redact.py). The id is still in the
decision log: the last SHRINK of the gang is the one whose preemptor the ledger would have kept.
The request rows follow at the next pass, as every pass rewrites what a shrink's rows say.

What cannot come back: a row whose shrink was over before this migration keeps its old words
("for another tenant", "a gang of another tenant") until the engine decides about it again."""

from django.db import migrations


def preemptors_from_the_decision_log(apps, schema_editor):
    snapshots = apps.get_model("scheduling", "EngineSnapshot")
    decisions = apps.get_model("scheduling", "SchedulingDecision")
    for record in snapshots.objects.exclude(shrinks={}):
        entries = (record.shrinks or {}).get("gangs") or {}
        unnamed = [g for g, entry in entries.items() if not entry.get("by")]
        for g in unnamed:
            preemptor = (decisions.objects.filter(cluster_id=record.cluster_id, action="SHRINK", request=g)
                         .order_by("-pass_seq", "-id").values_list("preemptor", flat=True).first())
            if preemptor:
                entries[g]["by"] = preemptor
        if unnamed:
            record.save(update_fields=["shrinks"])


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0006_decision_victim_preemptor_indexes"),
    ]

    operations = [migrations.RunPython(preemptors_from_the_decision_log, migrations.RunPython.noop, elidable=True)]
