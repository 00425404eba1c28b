# The revision table and the triggers that keep it (credcors/store/revision.py has
# the SQL, per backend).  No model changes: makemigrations sees nothing.
# A later migration that alters AllowedOrigin must run install_triggers again
# (Django rebuilds SQLite tables to alter them, which drops their triggers).

from django.db import migrations

from credcors.store import revision


def install(apps, schema_editor):
    revision.install_triggers(schema_editor.connection)


def uninstall(apps, schema_editor):
    revision.uninstall_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("credcors", "0001_initial"),
    ]

    operations = [
        # The hint asks the router about AllowedOrigin: the triggers go only
        # where that table is.
        migrations.RunPython(install, uninstall, hints={"model_name": "allowedorigin"}),
    ]
