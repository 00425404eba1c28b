"""``manage.py credcors``: explain decisions and manage ``AllowedOrigin`` rows.

Subcommands: ``explain``, ``list``, ``add``, ``disable``, ``enable``,
``remove``, ``import``, ``export``, ``convert-settings`` and ``install-triggers``.
Rows are validated by the model, as in the admin; ``explain`` renders :func:`credcors.report.explain_request`.
Every value read from the command line or a file is quoted with
:func:`credcors.quoting.safe` before it is printed.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, connections, router, transaction

from credcors import revision
from credcors.conf import get_config
from credcors.diagnose import render
from credcors.exporting import export_json, export_text
from credcors.importing import ImportProblem, format_of, import_entries, parse_entries, read_file
from credcors.models import AllowedOrigin, canonicalize_origin
from credcors.quoting import safe, scrub
from credcors.report import explain_request


class Command(BaseCommand):
    help = "Explain credcors decisions and manage the AllowedOrigin allow-list."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        explain = sub.add_parser("explain", help="Say whether a credentialed call from ORIGIN is allowed, and why.")
        explain.add_argument("origin", metavar="ORIGIN", help='The Origin header, e.g. "https://app.example.com".')
        explain.add_argument("--method", default="GET", help="The method the page's script uses (default GET).")
        explain.add_argument(
            "--header",
            action="append",
            default=[],
            dest="headers",
            metavar="H",
            help="A request header the script sets; repeat for several.",
        )
        explain.add_argument("--path", default=None, help="The request path, checked against URLS_REGEX.")
        explain.add_argument("--json", action="store_true", help="Print JSON for machines.")
        sub.add_parser("list", help="List the settings origins and the database rows.")
        add = sub.add_parser("add", help="Add (or re-enable) an allowed origin row.")
        add.add_argument("origin", metavar="ORIGIN")
        add.add_argument("--note", default=None)
        for name, text in (("disable", "Disable a row."), ("enable", "Enable a row."), ("remove", "Delete a row.")):
            sub.add_parser(name, help=text).add_argument("origin", metavar="ORIGIN")
        imp = sub.add_parser("import", help="Add or update rows from a file (text: one origin a line, or JSON).")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--format", choices=("auto", "text", "json"), default="auto")
        imp.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
        exp = sub.add_parser("export", help="Print the rows as text (enabled origins) or JSON (all rows).")
        exp.add_argument("--format", choices=("text", "json"), default="text")
        sub.add_parser(
            "convert-settings",
            help="Print the CREDCORS dict equivalent to this project's django-cors-headers CORS_* settings.",
        )
        triggers = sub.add_parser(
            "install-triggers",
            help="(Re)install the triggers that keep the allow-list's revision, e.g. after restoring a dump "
            "without them.",
        )
        triggers.add_argument(
            "--database", choices=list(connections), default=None, help="Default: where AllowedOrigin is written."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, f"_{options['subcommand'].replace('-', '_')}")
        try:
            handler(options)
        except DatabaseError as exc:
            raise CommandError(
                f"the database refused ({type(exc).__name__}): has 'manage.py migrate' been run?"
            ) from None

    # explain -------------------------------------------------------------

    def _explain(self, options: dict[str, Any]) -> None:
        result = explain_request(
            options["origin"], method=options["method"], headers=options["headers"], path=options["path"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), indent=2))
        else:
            self.stdout.write(render(result))
        if not result.allowed:
            raise SystemExit(1)

    # convert-settings ----------------------------------------------------

    def _convert_settings(self, options: dict[str, Any]) -> None:
        from django.conf import settings

        from credcors.convert import convert_settings

        self.stdout.write(convert_settings(settings).render())

    # install-triggers ----------------------------------------------------

    def _install_triggers(self, options: dict[str, Any]) -> None:
        alias = options["database"] or router.db_for_write(AllowedOrigin)
        if not revision.is_supported(alias):
            raise CommandError(
                f"the database {alias!r} uses the {connections[alias].vendor!r} backend, which credcors has no "
                "triggers for; it reads every row every REFRESH_SECONDS there."
            )
        with transaction.atomic(using=alias):
            revision.install_triggers(connections[alias])
        self.stdout.write(f"Installed the revision triggers on the database {alias!r}; every process reloads once.")

    # rows ----------------------------------------------------------------

    def _list(self, options: dict[str, Any]) -> None:
        config = get_config()
        self.stdout.write(f"From settings (CREDCORS['ALLOWED_ORIGINS']): {len(config.rules)}")
        for rule in config.rules:
            self.stdout.write(f"  {rule}")
        rows = list(AllowedOrigin.objects.order_by("origin"))
        state = "" if config.use_database else " (ignored: USE_DATABASE is False)"
        self.stdout.write(f"From the database: {len(rows)}{state}")
        for row in rows:
            note = f"  {safe(row.note, 80)}" if row.note else ""
            flag = "enabled " if row.enabled else "disabled"
            self.stdout.write(f"  {flag}  {scrub(row.origin, 300)}{note}")

    def _add(self, options: dict[str, Any]) -> None:
        origin = _canonical(options["origin"])
        note = options["note"]
        row = AllowedOrigin.objects.filter(origin=origin).first()
        if row is None:
            try:
                # save() validates and canonicalizes again, exactly as for the
                # admin.  The savepoint keeps a caller's transaction usable if
                # the insert loses a race.
                with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
                    AllowedOrigin(origin=origin, note=note or "").save()
            except IntegrityError:
                # Someone added the same origin between the read above and
                # this insert: theirs is the row to update.
                row = AllowedOrigin.objects.filter(origin=origin).first()
                if row is None:  # ... and someone removed it again meanwhile.
                    raise CommandError(
                        f"{origin} was added and removed by someone else meanwhile; nothing was saved. "
                        "Run the command again."
                    ) from None
            else:
                self.stdout.write(f"Added {origin}{_stored_as(options['origin'], origin)}.")
                return
        changed = []
        if not row.enabled:
            row.enabled = True
            changed.append("enabled")
        if note is not None and note != row.note:
            row.note = note
            changed.append("note updated")
        if changed:
            row.save()
            self.stdout.write(f"{origin} was already listed: {', '.join(changed)}.")
        else:
            self.stdout.write(f"{origin} is already listed and enabled; nothing changed.")

    def _disable(self, options: dict[str, Any]) -> None:
        self._set_enabled(options["origin"], False)

    def _enable(self, options: dict[str, Any]) -> None:
        self._set_enabled(options["origin"], True)

    def _set_enabled(self, value: str, enabled: bool) -> None:
        row = _find(value)
        word = "enabled" if enabled else "disabled"
        if row.enabled == enabled:
            self.stdout.write(f"{row.origin} is already {word}; nothing changed.")
            return
        row.enabled = enabled
        row.save(update_fields=["enabled", "updated_at"])
        self.stdout.write(f"{word.capitalize()} {row.origin}.")

    def _remove(self, options: dict[str, Any]) -> None:
        row = _find(options["origin"])
        row.delete()
        self.stdout.write(f"Removed {row.origin}.")

    # import / export -----------------------------------------------------

    def _import(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        name = safe(str(path), 200)
        try:
            entries = parse_entries(read_file(path), format_of(path.name, options["format"]), name)
            report = import_entries(entries, name, dry_run=options["dry_run"])
        except ImportProblem as exc:
            raise CommandError(str(exc)) from None
        # Written only now, so that a rolled-back import lists nothing as added.
        for line in report.lines:
            self.stdout.write(line)
        prefix = "Dry run, nothing saved: would have " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}added {report.created}, updated {report.updated}, unchanged {report.unchanged}.")

    def _export(self, options: dict[str, Any]) -> None:
        rows = AllowedOrigin.objects.order_by("origin")
        if options["format"] == "json":
            self.stdout.write(export_json(rows))
            return
        self.stdout.write(export_text(rows), ending="")


def _canonical(value: str) -> str:
    try:
        return canonicalize_origin(value)
    except ValidationError as exc:
        raise CommandError(scrub(" ".join(exc.messages), 600)) from None


def _stored_as(typed: str, stored: str) -> str:
    return "" if typed == stored else f" (you wrote {safe(typed)}; stored in the form browsers send)"


def _find(value: str) -> AllowedOrigin:
    origin = _canonical(value)
    row: AllowedOrigin | None = AllowedOrigin.objects.filter(origin=origin).first()
    if row is not None:
        return row
    if any(rule.serialize() == origin for rule in get_config().rules):
        raise CommandError(
            f"{origin} is listed in settings (CREDCORS['ALLOWED_ORIGINS']), not in the database; edit your settings."
        )
    raise CommandError(f"no database row for {origin}; 'manage.py credcors list' shows what there is.")
