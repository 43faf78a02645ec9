"""Request ids (<namespace>/<pod or gang>) are up to 63 + 1 + 253 characters, as Kubernetes names
allow; 300 was too few for a long pod name in a long namespace, and the pass that tried to record
one failed, for every tenant of the cluster, at every pass (models.KEY_MAX)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0008_engine_snapshot_rejected_digest'),
    ]

    operations = [
        migrations.AlterField(
            model_name='binding',
            name='request',
            field=models.CharField(help_text="The engine's request id: <namespace>/<pod or gang>.", max_length=317),
        ),
        migrations.AlterField(
            model_name='schedulingdecision',
            name='preemptor',
            field=models.CharField(blank=True, max_length=317),
        ),
        migrations.AlterField(
            model_name='schedulingdecision',
            name='request',
            field=models.CharField(blank=True, db_index=True, max_length=317),
        ),
        migrations.AlterField(
            model_name='schedulingdecision',
            name='victim',
            field=models.CharField(blank=True, max_length=317),
        ),
        migrations.AlterField(
            model_name='schedulingrequest',
            name='key',
            field=models.CharField(help_text="The engine's request id: <namespace>/<pod or gang>.", max_length=317),
        ),
    ]
