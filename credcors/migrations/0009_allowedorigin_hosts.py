# The request hosts a row applies on (issue 24); empty, the database default
# too, means every host, as before.  SQLite rebuilds the table to add a column
# with a database default, which drops its triggers: install them again (see
# 0002_revision).

from django.db import migrations, models

import credcors.models
from credcors.store import revision


def install(apps, schema_editor):
    revision.install_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("credcors", "0008_trust_for_csrf_help_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="allowedorigin",
            name="hosts",
            field=models.TextField(
                blank=True,
                db_default="",
                default="",
                help_text=(
                    'Optional. The API hosts this origin is allowed on, separated by spaces, as ALLOWED_HOSTS spells '
                    'them: "api.customer-a.com" (that host) or ".customer-a.com" (the domain and its subdomains), '
                    "without a port. Empty: every host. Django must accept the host (ALLOWED_HOSTS) for it to match."
                ),
                validators=[credcors.models.validate_hosts],
                verbose_name="hosts",
            ),
        ),
        migrations.RunPython(install, migrations.RunPython.noop, hints={"model_name": "allowedorigin"}),
    ]
