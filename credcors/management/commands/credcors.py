"""``manage.py credcors``: explain decisions and manage ``AllowedOrigin`` rows.

Subcommands: ``explain``, ``list``, ``add``, ``disable``, ``enable``,
``remove``, ``prune``, ``import``, ``export``, ``convert-settings`` and ``install-triggers``.
``explain`` renders :func:`credcors.report.explain_request`; the row
subcommands live in :mod:`credcors.management.rows`.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections, router, transaction

from credcors import revision
from credcors.diagnose import render
from credcors.management.rows import RowCommands, add_row_parsers
from credcors.models import AllowedOrigin
from credcors.report import explain_request


class Command(RowCommands, BaseCommand):
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
