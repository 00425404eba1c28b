"""The row subcommands of ``manage.py credcors``.

``list``, ``add``, ``enable``, ``disable``, ``remove``, ``prune``, ``import``
and ``export``.

Rows are validated by the model, as in the admin.  Every change is written
to the admin's history (:mod:`credcors.rows.audit`) as the user ``--by`` names,
in the transaction that makes it.  Every value read from the command line
or a file is quoted with :func:`credcors.core.quoting.safe` before it is printed.
"""

from __future__ import annotations

from argparse import ArgumentParser, BooleanOptionalAction, _SubParsersAction
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, OutputWrapper
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from credcors.conf import get_config
from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.quoting import safe, scrub
from credcors.core.scopes import ScopeError, join_scopes
from credcors.core.trust import row_trust
from credcors.models import AllowedOrigin, canonicalize_origin, validate_policy
from credcors.rows import audit
from credcors.rows.edit import FIELDS, host_scope, on_hosts, save_row
from credcors.rows.export_format import export_json, export_text
from credcors.rows.import_format import ImportProblem, format_of, parse_entries, read_file, resolve_policy
from credcors.rows.importing import import_entries
from credcors.rows.lifetime import LifetimeError, describe, parse_duration, parse_expiry
from credcors.rows.overlaps import unused_row_warnings

__all__ = ["VIA", "RowCommands", "add_row_parsers", "settings_problems"]

#: How the command line's history entries say where they came from.
VIA = "with manage.py credcors"
#: ``add`` without ``--expires`` leaves a row's expiry as it is.
KEEP: Any = object()


def add_row_parsers(sub: _SubParsersAction[ArgumentParser]) -> None:
    """The row subcommands' parsers."""
    sub.add_parser("list", help="List the settings origins and the database rows.")
    add = sub.add_parser("add", help="Add (or re-enable) an allowed origin row.")
    add.add_argument(
        "origin",
        metavar="ORIGIN",
        help='The origin to allow, as the browser sends it: "https://app.example.com", "http://localhost:3001", '
        'or a subdomain pattern "https://*.example.com". Stored canonical; the command says so when that differs.',
    )
    add.add_argument("--note", default=None, help="Why the origin is allowed; shown in the admin.")
    add.add_argument(
        "--expires",
        default=None,
        metavar="WHEN",
        help="Refuse the origin from then on: a duration (30m, 12h, 3d, 2w), an ISO date-time "
        "(2026-12-31T18:00:00Z), or 'never' to clear an expiry.",
    )
    add.add_argument("--policy", default=None, help='The policy the row belongs to (default "default").')
    scope = add.add_mutually_exclusive_group()
    scope.add_argument(
        "--host",
        action="append",
        default=None,
        dest="hosts",
        metavar="HOST",
        help='Allow it only on requests to this API host, as ALLOWED_HOSTS spells it: "api.customer-a.com", or '
        '".customer-a.com" for the domain and its subdomains; repeat for several. On an existing row it replaces '
        "the row's hosts. Not given: a new row applies on every host, an existing row keeps its hosts.",
    )
    scope.add_argument(
        "--every-host", action="store_true", help="Let an existing row apply on every host again (clears its hosts)."
    )
    add.add_argument(
        "--trust-for-csrf",
        action=BooleanOptionalAction,
        default=None,
        help="Let Django's CSRF check trust this exact origin on its policy's views (see docs/csrf.md); "
        "--no-trust-for-csrf takes the trust back. Left as it is when not given (off for a new row).",
    )
    _by(add)
    for name, text in (("disable", "Disable a row."), ("enable", "Enable a row."), ("remove", "Delete a row.")):
        row_parser = sub.add_parser(name, help=text)
        row_parser.add_argument("origin", metavar="ORIGIN", help="The row's origin, as 'list' shows it.")
        _by(row_parser)
    prune = sub.add_parser("prune", help="Delete rows that expired longer ago than --older-than.")
    prune.add_argument(
        "--older-than",
        default="7d",
        metavar="DURATION",
        help="How long a row stays after its expiry, for the record (default 7d; 0m deletes every expired row).",
    )
    prune.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")
    _by(prune)
    imp = sub.add_parser("import", help="Add or update rows from a file (text: one origin a line, or JSON).")
    imp.add_argument(
        "file", metavar="FILE", help="A text file (one origin a line, # comments) or a JSON list, at most 5 MiB."
    )
    imp.add_argument(
        "--format",
        choices=("auto", "text", "json"),
        default="auto",
        help="How to read FILE (default auto: JSON for a name ending in .json, text otherwise).",
    )
    imp.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
    imp.add_argument(
        "--policy",
        default=None,
        help="The policy of entries that name none (default: the one a text export's header names; without one, "
        'new rows go to "default" and existing rows keep theirs).',
    )
    _by(imp)
    exp = sub.add_parser("export", help="Print the rows as text (enabled origins of one policy) or JSON (all rows).")
    exp.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): the enabled origins that have not expired, one a line, which 'import' reads back; "
        "json: every row with all its fields.",
    )
    exp.add_argument("--policy", default=DEFAULT_POLICY, help='The policy a text export lists (default "default").')


class RowCommands:
    """The row subcommands, as methods of the command (``_add`` for ``add``)."""

    stdout: OutputWrapper
    stderr: OutputWrapper

    def _list(self, options: dict[str, Any]) -> None:
        config = get_config()
        for name, policy in config.policies.items():
            if name == DEFAULT_POLICY:
                # The top-level keys, as 0.1 printed them.
                scope = _scope(policy.hosts, "CREDCORS")
                self.stdout.write(f"From settings (CREDCORS['ALLOWED_ORIGINS']): {len(policy.rules)}{scope}")
                self.stdout.write("".join(f"  {rule}\n" for rule in policy.rules), ending="")
                continue
            where = f"CREDCORS['POLICIES'][{name!r}]"
            if policy.allow_all:
                self.stdout.write(f"Policy {name!r}: every origin, answered with '*' ({where}['ALLOW_ALL_ORIGINS'])")
                continue
            scope = _scope(policy.hosts, where)
            self.stdout.write(f"Policy {name!r} from settings ({where}['ALLOWED_ORIGINS']): {len(policy.rules)}{scope}")
            for rule in policy.rules:
                self.stdout.write(f"  {rule}")
        note = settings_problems(config)
        if note:
            self.stdout.write(f"  {note}")
        rows = list(AllowedOrigin.objects.order_by("origin"))
        self.stdout.write(f"From the database: {len(rows)}")
        now = timezone.now()
        for row in rows:
            note = f"  {safe(row.note, 80)}" if row.note else ""
            flag = "disabled" if not row.enabled else "expired " if row.is_expired(now) else "enabled "
            until = "" if row.expires_at is None else f"  expires {describe(row.expires_at)}"
            named = "" if row.policy == DEFAULT_POLICY else f"  [policy {safe(row.policy, 64)}]"
            named += f"  {on_hosts(row.hosts)}" if row.hosts else ""
            # Per row: a named policy may read the database while the default does not.
            ignored = "" if config.takes_rows(row.policy) else "  (ignored: its policy takes no rows)"
            # The trust in force (or once the row is): TRUST_FOR_CSRF may trust an unticked row.
            trust = row_trust(config, row.origin, row.policy, row.trust_for_csrf).words(row.trust_for_csrf)
            trusted = f"  {trust}" if trust and not ignored else ""
            self.stdout.write(f"  {flag}  {scrub(row.origin, 300)}{named}{until}{trusted}{ignored}{note}")

    def _add(self, options: dict[str, Any]) -> None:
        origin = _canonical(options["origin"])
        note = options["note"]
        expires = _expiry(options["expires"])
        policy = options["policy"]
        trust = options["trust_for_csrf"]
        hosts = _hosts(options)
        if policy is not None:
            try:
                validate_policy(policy)
            except ValidationError as exc:
                raise CommandError(scrub(" ".join(exc.messages), 600)) from None
        user = self._actor(options)
        alias = router.db_for_write(AllowedOrigin)
        row = AllowedOrigin.objects.filter(origin=origin).first()
        # Validated for the policy the row will have: an http:// origin is refused where that policy sends credentials.
        _canonical(origin, policy or (DEFAULT_POLICY if row is None else row.policy))
        if row is None:
            try:
                # The savepoint keeps a caller's transaction usable if the
                # insert loses a race.
                with transaction.atomic(using=alias):
                    row = AllowedOrigin(
                        origin=origin,
                        note=note or "",
                        policy=policy or DEFAULT_POLICY,
                        expires_at=None if expires is KEEP else expires,
                        trust_for_csrf=bool(trust),
                        hosts=hosts or "",
                    )
                    _save(row, user)
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
                self.stdout.write(f"Added {origin}{_stored_as(options['origin'], origin)}{_details(row)}.")
                self._warn_unused(row)
                return
        before = {name: getattr(row, name) for name in FIELDS}
        changed = []
        if not row.enabled:
            row.enabled = True
            changed.append("enabled")
        if note is not None and note != row.note:
            row.note = note
            changed.append("note updated")
        if policy is not None and policy != row.policy:
            row.policy = policy
            changed.append(f"moved to the policy {policy}")
        if expires is not KEEP and expires != row.expires_at:
            row.expires_at = expires
            changed.append(f"expires {describe(expires)}")
        if trust is not None and trust != row.trust_for_csrf:
            row.trust_for_csrf = trust
            changed.append("trusted for CSRF" if trust else "no longer trusted for CSRF")
        if hosts is not None and hosts != row.hosts:
            changed.append(f"now {on_hosts(hosts)} (was {on_hosts(row.hosts)})")
            row.hosts = hosts
        if changed:
            with transaction.atomic(using=alias):
                _save(row, user, before)
            self.stdout.write(f"{origin} was already listed: {', '.join(changed)}.")
        else:
            self.stdout.write(f"{origin} is already listed and enabled{_details(row)}; nothing changed.")
        if row.is_expired():
            self.stdout.write(
                f"Note: it expired at {describe(row.expires_at)}, so it is still refused; "
                "pass --expires with a later time, or --expires never."
            )
        self._warn_unused(row)

    def _warn_unused(self, row: AllowedOrigin) -> None:
        # What the admin warns about on save: a row of a '*' policy, a shadowed trust.
        for text in unused_row_warnings(get_config(), row.origin, row.policy, row.trust_for_csrf):
            self.stderr.write(f"Warning: {text}")

    def _disable(self, options: dict[str, Any]) -> None:
        self._set_enabled(options, False)

    def _enable(self, options: dict[str, Any]) -> None:
        self._set_enabled(options, True)

    def _set_enabled(self, options: dict[str, Any], enabled: bool) -> None:
        row = _find(options["origin"])
        word = "enabled" if enabled else "disabled"
        if row.enabled == enabled:
            self.stdout.write(f"{row.origin} is already {word}; nothing changed.")
            return
        user = self._actor(options)
        before = {name: getattr(row, name) for name in FIELDS}
        row.enabled = enabled
        with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
            _save(row, user, before)
        self.stdout.write(f"{word.capitalize()} {row.origin}.")

    def _remove(self, options: dict[str, Any]) -> None:
        row = _find(options["origin"])
        user = self._actor(options)
        with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
            # Logged first: a deleted row has no primary key to log under.
            audit.log(user, audit.DELETION, [(row, f"Removed {VIA}.")])
            row.delete()
        self.stdout.write(f"Removed {row.origin}.")

    def _prune(self, options: dict[str, Any]) -> None:
        try:
            older_than = parse_duration(options["older_than"], allow_zero=True)
        except LifetimeError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        cutoff = timezone.now() - older_than
        user = None if options["dry_run"] else self._actor(options)
        with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
            rows = list(AllowedOrigin.objects.filter(expires_at__lte=cutoff).order_by("origin").select_for_update())
            for row in rows:
                self.stdout.write(f"  {scrub(row.origin, 300)}  expired {describe(row.expires_at)}")
            if not options["dry_run"]:
                audit.log(
                    user, audit.DELETION, [(row, f"Pruned: expired {describe(row.expires_at)} {VIA}.") for row in rows]
                )
                # Row by row, so post_delete reloads every process as any delete does.
                for row in rows:
                    row.delete()
        prefix = "Dry run, nothing deleted: would have pruned" if options["dry_run"] else "Pruned"
        self.stdout.write(f"{prefix} {len(rows)} row{'' if len(rows) == 1 else 's'} expired before {describe(cutoff)}.")

    # import / export -----------------------------------------------------

    def _import(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        name = safe(str(path), 200)
        user = None if options["dry_run"] else self._actor(options)
        fmt = format_of(path.name, options["format"])
        try:
            text = read_file(path)
            policy = resolve_policy(text, fmt, options["policy"], choice="--policy")
            entries = parse_entries(text, fmt, name)
            report = import_entries(entries, name, dry_run=options["dry_run"], policy=policy, user=user)
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
        self.stdout.write(export_text(rows, options["policy"]), ending="")

    # who ------------------------------------------------------------------

    def _actor(self, options: dict[str, Any]) -> Any:
        """The user ``--by`` names, for the history; says so on stderr when it had to be created."""
        try:
            user, created = audit.resolve_actor(audit.default_actor() if options["by"] is None else options["by"])
        except audit.AuditError as exc:
            raise CommandError(scrub(str(exc), 400)) from None
        if created:
            # On stderr: stdout stays the command's own report, which scripts read.
            self.stderr.write(
                f"Created the Django user {safe(user.get_username(), 160)} to record this change under in the "
                "admin's history: inactive, it cannot log in; later changes --by the same name reuse it."
            )
        return user


def settings_problems(config: Config) -> str:
    """One line saying that ``manage.py check`` has something to say about ``CREDCORS``; empty if not.

    For the subcommands that skip the system-check banner, which would bury
    their answer: they say this much instead.
    """
    count = len(config.problems)
    if not count:
        return ""
    ids = ", ".join(sorted({problem.id for problem in config.problems}))
    return (
        f"CREDCORS has {count} problem{'' if count == 1 else 's'} ({ids}): 'manage.py check' says what to fix; "
        "entries it refuses are ignored."
    )


def _canonical(value: str, policy: str | None = None) -> str:
    # policy None: the form any policy accepts, to find a row; a policy: as a row of it is validated.
    try:
        return canonicalize_origin(value, policy)
    except ValidationError as exc:
        raise CommandError(scrub(" ".join(exc.messages), 600)) from None


def _stored_as(typed: str, stored: str) -> str:
    return "" if typed == stored else f" (you wrote {safe(typed)}; stored in the form browsers send)"


def _find(value: str) -> AllowedOrigin:
    origin = _canonical(value)
    row: AllowedOrigin | None = AllowedOrigin.objects.filter(origin=origin).first()
    if row is not None:
        return row
    if any(rule.serialize() == origin for rule in get_config().default_policy.rules):
        raise CommandError(
            f"{origin} is listed in settings (CREDCORS['ALLOWED_ORIGINS']), not in the database; edit your settings."
        )
    raise CommandError(f"no database row for {origin}; 'manage.py credcors list' shows what there is.")


def _by(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        default=None,
        metavar="NAME",
        help="Who makes the change, for the admin's history (default: the operating-system user). "
        "A name that is no Django user's gets one, created once, inactive and unable to log in; "
        "the command says so on stderr.",
    )


def _expiry(value: str | None) -> Any:
    if value is None:
        return KEEP
    try:
        return parse_expiry(value)
    except LifetimeError as exc:
        raise CommandError(f"--expires: {exc}") from None


def _hosts(options: dict[str, Any]) -> str | None:
    # The row's hosts as stored ("": every host), or None: --host not given, keep them.
    if options["every_host"]:
        return ""
    if options["hosts"] is None:
        return None
    try:
        return host_scope(options["hosts"])
    except ScopeError as exc:
        raise CommandError(f"--host: {scrub(exc.message, 600)}") from None


def _scope(hosts: tuple[str, ...] | None, where: str) -> str:
    # A policy's HOSTS, after the count of its settings origins.
    if hosts is None:
        return ""
    # An empty or invalid HOSTS leaves them on no host (credcors.E029), never on every one.
    return f", {on_hosts(join_scopes(hosts)) if hosts else 'on no host'} ({where}['HOSTS'])"


def _details(row: AllowedOrigin) -> str:
    parts = [] if row.expires_at is None else [f"expires {describe(row.expires_at)}"]
    if row.hosts:
        parts.append(on_hosts(row.hosts))
    trust = row_trust(get_config(), row.origin, row.policy, row.trust_for_csrf).words(row.trust_for_csrf)
    if trust:
        parts.append(trust)
    return f" ({', '.join(parts)})" if parts else ""


def _save(row: AllowedOrigin, user: Any, before: dict[str, Any] | None = None) -> None:
    # Through the one write path, which words the history as the admin does.
    try:
        save_row(row, user=user, before=before)
    except ValidationError as exc:
        raise CommandError(scrub(" ".join(exc.messages), 600)) from None
