"""``manage.py credcors``: explain decisions and manage ``AllowedOrigin`` rows.

Subcommands: ``explain``, ``list``, ``add``, ``disable``, ``enable``,
``remove``, ``import``, ``export``, ``convert-settings`` and ``install-triggers``.
Rows are validated by the model, as in the admin; ``explain`` renders :func:`credcors.explain.explain_request`.
Every value read from the command line or a file is quoted with
:func:`credcors.log.safe` before it is printed.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, connections, router, transaction

from credcors import revision
from credcors.conf import get_config
from credcors.explain import Explanation, explain_request
from credcors.log import safe, scrub
from credcors.models import AllowedOrigin, canonicalize_origin

#: Bigger files are refused before they are read: an allow-list is not that big.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: How many invalid entries an import reports before summarizing the rest.
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True, slots=True)
class _Entry:
    where: str
    origin: str
    enabled: bool | None
    note: str | None


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
        entries = _read_entries(path, options["format"])
        errors: list[str] = []
        seen: dict[str, str] = {}
        canonical: list[tuple[_Entry, str]] = []
        for entry in entries:
            if entry.origin is _BAD_ENTRY:
                errors.append(
                    f'{entry.where}: expected an origin string or {{"origin": "...", "enabled": true, "note": "..."}} '
                    "with nothing else in it."
                )
                continue
            try:
                origin = canonicalize_origin(entry.origin)
            except ValidationError as exc:
                errors.append(f"{entry.where}: {scrub(' '.join(exc.messages), 400)}")
                continue
            if origin in seen:
                errors.append(f"{entry.where}: {origin} is already listed at {seen[origin]}.")
                continue
            seen[origin] = entry.where
            canonical.append((entry, origin))
        if errors:
            shown = errors[:MAX_REPORTED_ERRORS]
            if len(errors) > MAX_REPORTED_ERRORS:
                shown.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more.")
            raise CommandError(
                f"{safe(str(path), 200)}: {len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}; "
                "nothing was imported.\n" + "\n".join(shown)
            )
        try:
            report = _apply_import(canonical, dry_run=options["dry_run"])
        except IntegrityError:
            # Another writer added one of these origins after the rows were
            # read: the whole import rolled back, so running it again is safe.
            raise CommandError(
                f"{safe(str(path), 200)}: another process added some of these origins during the import; "
                "nothing was imported. Run the import again."
            ) from None
        # Written only now, so that a rolled-back import lists nothing as added.
        for line in report.lines:
            self.stdout.write(line)
        prefix = "Dry run, nothing saved: would have " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}added {report.created}, updated {report.updated}, unchanged {report.unchanged}.")

    def _export(self, options: dict[str, Any]) -> None:
        rows = AllowedOrigin.objects.order_by("origin")
        if options["format"] == "json":
            data = [{"origin": row.origin, "enabled": row.enabled, "note": row.note} for row in rows]
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write("# credcors allowed origins (enabled rows), one per line")
        for row in rows:
            if row.enabled:
                self.stdout.write(scrub(row.origin, 300))


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


@dataclass(frozen=True, slots=True)
class _ImportReport:
    created: int
    updated: int
    unchanged: int
    lines: list[str]


def _apply_import(canonical: list[tuple[_Entry, str]], *, dry_run: bool) -> _ImportReport:
    """Write the checked entries in one transaction (rolled back for a dry run)."""
    created = updated = unchanged = 0
    lines: list[str] = []
    with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
        # Rows are locked, and new ones inserted, in origin order: two imports
        # of overlapping files then wait for each other instead of
        # deadlocking, and one adding an origin the other just added fails
        # on the unique constraint, which says "run it again".
        in_order = sorted(canonical, key=lambda pair: pair[1])
        locked = AllowedOrigin.objects.filter(origin__in=[origin for _, origin in in_order]).order_by("origin")
        existing = {row.origin: row for row in locked.select_for_update()}
        for entry, origin in in_order:
            row = existing.get(origin)
            enabled = True if entry.enabled is None else entry.enabled
            if row is None:
                AllowedOrigin(origin=origin, enabled=enabled, note=entry.note or "").save()
                created += 1
                lines.append(f"  added     {origin}")
                continue
            changes = []
            if row.enabled != enabled:
                row.enabled = enabled
                changes.append("enabled" if enabled else "disabled")
            if entry.note is not None and row.note != entry.note:
                row.note = entry.note
                changes.append("note")
            if changes:
                row.save()
                updated += 1
                lines.append(f"  updated   {origin} ({', '.join(changes)})")
            else:
                unchanged += 1
        if dry_run:
            transaction.set_rollback(True)
    return _ImportReport(created, updated, unchanged, lines)


def _read_entries(path: Path, fmt: str) -> list[_Entry]:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise CommandError(f"{safe(str(path), 200)} is {size} bytes; the limit is {MAX_IMPORT_BYTES}.")
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {safe(str(path), 200)}: {exc.strerror or type(exc).__name__}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{safe(str(path), 200)} is not UTF-8 text (byte {exc.start}).") from None
    if fmt == "auto":
        fmt = "json" if path.suffix.lower() == ".json" else "text"
    return _json_entries(path, text) if fmt == "json" else _text_entries(text)


def _text_entries(text: str) -> list[_Entry]:
    entries = []
    for number, line in enumerate(text.split("\n"), start=1):
        value = line.removesuffix("\r")
        if not value.strip() or value.lstrip().startswith("#"):
            continue
        entries.append(_Entry(f"line {number}", value, None, None))
    return entries


def _json_entries(path: Path, text: str) -> list[_Entry]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CommandError(f"{safe(str(path), 200)} is not valid JSON{where}.") from None
    if not isinstance(data, list):
        raise CommandError(
            f'{safe(str(path), 200)}: expected a JSON list of origins or of {{"origin": ..., "enabled": ..., '
            '"note": ...}} objects.'
        )
    entries = []
    for number, item in enumerate(data, start=1):
        where = f"entry {number}"
        if isinstance(item, str):
            entries.append(_Entry(where, item, None, None))
            continue
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("origin"), str)
            or not isinstance(item.get("enabled", True), bool)
            or not isinstance(item.get("note", ""), str)
            or set(item) - {"origin", "enabled", "note"}
        ):
            entries.append(_Entry(where, _BAD_ENTRY, None, None))
            continue
        entries.append(_Entry(where, item["origin"], item.get("enabled"), item.get("note")))
    return entries


# Marks a JSON entry of the wrong shape; reported with its number together
# with invalid origins, so one run shows every problem.
_BAD_ENTRY: Any = object()


def render(result: Explanation) -> str:
    """The human-readable form of an explanation (the admin page shows the same parts)."""
    verdict = "ALLOWED" if result.allowed else "REFUSED"
    lines = [f"Origin:   {safe(result.origin)}", f"Verdict:  {verdict} ({result.cause})", f"Why:      {result.message}"]
    lines += [f"          {hint}" for hint in result.hints]
    for exchange in result.exchanges:
        if exchange.kind.value == "preflight":
            asked = f", Access-Control-Request-Headers: {exchange.request_headers}" if exchange.request_headers else ""
            title = (
                f"Preflight: OPTIONS with Access-Control-Request-Method: {safe(exchange.method, 70)}{scrub(asked, 300)}"
                f" -> {exchange.status}"
            )
        else:
            title = f"Request:  {safe(exchange.method, 70)} -> the view's response, with these headers added"
        lines.append(title)
        lines += [f"  {name}: {value}" for name, value in exchange.response_headers]
    if not result.exchanges:
        lines.append("Headers:  none (credcors does not touch this path)")
    return "\n".join(lines)
