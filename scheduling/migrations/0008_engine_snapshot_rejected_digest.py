"""Plans the engine refused are remembered in their own field, whatever config is in force: before,
``config_digest`` held them only while no config was in force, and a refusal with a config in
force was recorded again at every pass (scheduling/cycle.py, _config_in_force)."""

from django.db import migrations, models


def rejected_plans_to_their_own_field(apps, schema_editor):
    snapshots = apps.get_model("scheduling", "EngineSnapshot")
    snapshots.objects.filter(config__isnull=True).exclude(config_digest="").update(
        rejected_digest=models.F("config_digest"), config_digest="")


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0007_shrink_ledger_names_preemptors"),
    ]

    operations = [
        migrations.AddField(
            model_name="enginesnapshot",
            name="rejected_digest",
            field=models.CharField(blank=True, help_text="The digest of the plans last refused as invalid (V6): a "
                                                         "change of the plans is refused once, not at every pass.",
                                   max_length=64),
        ),
        migrations.AlterField(
            model_name="enginesnapshot",
            name="config_digest",
            field=models.CharField(blank=True, help_text="The digest of the config in force.", max_length=64),
        ),
        migrations.RunPython(rejected_plans_to_their_own_field, migrations.RunPython.noop, elidable=True),
    ]
