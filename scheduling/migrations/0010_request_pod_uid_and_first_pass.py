"""A request remembers its pod's uid and the pass that first saw it: a pod deleted and made again
under the same name is another request (it had inherited the old one's admission, whatever it
asked), and its why starts with it. Rows from before know neither: they are checked from the
next pass on, and their why keeps all of its name's history."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0009_request_ids_fit_any_pod'),
    ]

    operations = [
        migrations.AddField(
            model_name='schedulingrequest',
            name='first_pass',
            field=models.PositiveBigIntegerField(default=0, help_text='The pass that first saw it: its why starts there.'),
        ),
        migrations.AddField(
            model_name='schedulingrequest',
            name='pod_uid',
            field=models.CharField(blank=True, help_text='The uid of its pod, for a request of one pod (not a gang).', max_length=64),
        ),
    ]
