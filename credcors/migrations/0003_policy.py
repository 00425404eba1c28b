# Each row belongs to a policy, and says whether Django's CSRF origin check
# may trust it.  Adding a NOT NULL column makes Django rebuild the table on
# SQLite, which drops the revision triggers of 0002: install them again.

import credcors.models
from django.db import migrations, models

from credcors.store import revision


def install(apps, schema_editor):
    revision.install_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("credcors", "0002_revision"),
    ]

    operations = [
        migrations.AddField(
            model_name="allowedorigin",
            name="policy",
            field=models.CharField(
                db_index=True,
                db_default="default",
                default="default",
                help_text="The CORS policy this origin belongs to: \"default\" (views without a policy of their own) or a name from CREDCORS['POLICIES'] whose USE_DATABASE is True.",
                max_length=64,
                validators=[credcors.models.validate_policy],
                verbose_name="policy",
            ),
        ),
        migrations.AddField(
            model_name="allowedorigin",
            name="trust_for_csrf",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Let Django's CSRF origin check accept this exact origin for unsafe requests (needs credcors.csrf.CredCorsCsrfViewMiddleware). Reading is not writing: leave it off for origins that only read.",
                verbose_name="trusted for CSRF",
            ),
        ),
        migrations.RunPython(install, migrations.RunPython.noop, hints={"model_name": "allowedorigin"}),
    ]
