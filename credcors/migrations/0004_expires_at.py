# An optional expiry per row (issue 14).  Nullable, so SQLite adds the column
# in place; the triggers are installed again all the same, in case a backend
# rebuilt the table (see 0002_revision).

from django.db import migrations, models

from credcors.store import revision


def install(apps, schema_editor):
    revision.install_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("credcors", "0003_policy"),
    ]

    operations = [
        migrations.AddField(
            model_name="allowedorigin",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                db_index=True,
                help_text=(
                    "Optional. From this moment the origin is refused, in every process within a second; "
                    "leave empty for an origin that never expires."
                ),
                null=True,
                verbose_name="expires",
            ),
        ),
        migrations.RunPython(install, migrations.RunPython.noop, hints={"model_name": "allowedorigin"}),
    ]
