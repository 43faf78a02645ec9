"""Messages recorded before scheduling/redact.py named every tenant by its path ("tenant org/a",
"tenant org/a (its own namespaces)"), whoever would read them. They now keep the engine's node
ids (t<id>, t<id>#self) and each reader gets them named for them; this turns the old paths back
into ids, the exact inverse of what the cycle wrote, for the tenants that exist. A path no tenant
has any more (renamed since) stays as it was."""

import re

from django.db import migrations

BATCH = 2000


def paths_to_engine_ids(apps, schema_editor):
    ids = dict(apps.get_model("tenants", "Tenant").objects.values_list("full_slug", "pk"))
    if not ids:
        return
    # Longest first, so "org/a" is not read as "org"; "another tenant …" is the cycle's own words.
    path = re.compile(r"(?<!another )tenant (" + "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
                      + r")( \(its own namespaces\))?(?![\w\-/])")

    def engine_id(m: re.Match) -> str:
        return f"t{ids[m.group(1)]}" + ("#self" if m.group(2) else "")

    for name in ("SchedulingRequest", "SchedulingDecision"):
        model = apps.get_model("scheduling", name)
        changed = []
        for row in model.objects.filter(message__contains="tenant ").only("pk", "message").iterator(chunk_size=BATCH):
            message = path.sub(engine_id, row.message)
            if message != row.message:
                row.message = message
                changed.append(row)
            if len(changed) >= BATCH:
                model.objects.bulk_update(changed, ["message"])
                changed = []
        model.objects.bulk_update(changed, ["message"])


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0004_elastic_gangs"),
    ]

    operations = [migrations.RunPython(paths_to_engine_ids, migrations.RunPython.noop, elidable=True)]
