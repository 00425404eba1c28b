# A refused origin is listed per host it was refused on (issue 24): one row
# per (origin, policy, host).  Rows recorded before have the host "": unknown.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('credcors', '0009_allowedorigin_hosts'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='refusedorigin',
            name='credcors_refused_origin_policy',
        ),
        migrations.AddField(
            model_name='refusedorigin',
            name='host',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='host'),
        ),
        migrations.AddConstraint(
            model_name='refusedorigin',
            constraint=models.UniqueConstraint(
                fields=('origin', 'policy', 'host'), name='credcors_refused_origin_policy_host'
            ),
        ),
    ]
