"""``manage.py credcors``: explain decisions and manage ``AllowedOrigin`` rows.

Subcommands: ``explain``, ``list``, ``add``, ``disable``, ``enable``,
``remove``, ``prune``, ``import``, ``export``, ``convert-settings`` and ``install-triggers``.
``explain`` renders :func:`credcors.explain.explain_request`; the row
subcommands live in :mod:`credcors.management.rows`.
"""

from __future__ import annotations

import json
import textwrap
from argparse import ArgumentParser, _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter
from django.db import DatabaseError, connections, router, transaction

from credcors.conf import get_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.diagnose import render
from credcors.explain import explain_request
from credcors.management.rows import RowCommands, add_row_parsers, settings_problems
from credcors.models import AllowedOrigin
from credcors.store import revision

#: Where to read more, after ``--help`` and after the subcommand list.
MORE = (
    "'manage.py credcors SUBCOMMAND --help' shows a subcommand's arguments.\n"
    'Manual: "Database origins and the admin" (docs/admin.md) and "Troubleshooting"\n'
    "(docs/troubleshooting.md) in the credcors documentation."
)
EPILOG = f"""examples:
  manage.py credcors explain https://app.example.com --method PUT --header Content-Type
  manage.py credcors add https://pr-42.preview.example.com --expires 7d --note "PR 42"
  manage.py credcors list

{MORE}
"""
#: Subcommands that report on the allow-list: the system-check banner, every
#: warning of every app, would bury their answer, so they skip the checks and
#: say in one line when CREDCORS has problems (explain and list) instead.  The
#: others run the checks first, as any command does.
REPORTING = frozenset({"explain", "list", "export", "convert-settings"})


class _HelpFormatter(DjangoHelpFormatter):
    """Django's, keeping the epilog's lines as written: its examples are commands to copy."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class Command(RowCommands, BaseCommand):
    help = "Explain credcors decisions and manage the AllowedOrigin allow-list."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        self._parser = parser
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        subcommand = options.get("subcommand")
        if subcommand is None:
            # Before the system checks: their banner would come first.
            # Exits with status 2 on the command line (CommandError from
            # call_command), as the missing argument did.
            self._parser.error(f"name a subcommand:\n{self._subcommand_list()}")
        if subcommand in REPORTING:
            options["skip_checks"] = True
        return super().execute(*args, **options)

    def _subcommand_list(self) -> str:
        width = max(len(name) for name, _ in self._subcommands) + 4
        lines = [
            textwrap.fill(text, 100, initial_indent=f"  {name:<{width}}", subsequent_indent=" " * (width + 2))
            for name, text in self._subcommands
        ]
        return "\n".join([*lines, "", MORE])

    def add_arguments(self, parser: ArgumentParser) -> None:
        # Not required=True: without a subcommand, execute() lists them all
        # instead of argparse's "the following arguments are required".
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
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
        explain.add_argument(
            "--host",
            default=None,
            help='The API host the page calls, as its Host header says it (e.g. "api.customer-a.com"), checked '
            "against ALLOWED_HOSTS; origins allowed only on some hosts are decided for it. Without it, only "
            "what is allowed on every host applies.",
        )
        explain.add_argument("--json", action="store_true", help="Print JSON for machines.")
        explain.add_argument(
            "--websocket",
            action="store_true",
            help="Explain a WebSocket handshake (OriginValidator).",
        )
        explain.add_argument(
            "--policy", default=DEFAULT_POLICY, help='With --websocket: the validator\'s policy (default "default").'
        )
        add_row_parsers(sub)
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
        self._subcommands = _listing(sub)

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
            options["origin"],
            method=options["method"],
            headers=options["headers"],
            path=options["path"],
            websocket=options["websocket"],
            policy_name=options["policy"],
            host=options["host"],
        )
        note = settings_problems(get_config())
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), indent=2))
            if note:
                # stdout stays one JSON document.
                self.stderr.write(note)
        else:
            self.stdout.write(render(result))
            if note:
                self.stdout.write(f"Settings: {note}")
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


def _listing(sub: _SubParsersAction[ArgumentParser]) -> list[tuple[str, str]]:
    """Each subcommand's name and help, in the order ``--help`` lists them; the help heads its own ``--help`` too."""
    listing = [(action.dest, action.help or "") for action in sub._choices_actions]
    for name, text in listing:
        sub.choices[name].description = text
    return listing
