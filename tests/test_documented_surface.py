"""Every documented import path, command, flag and setting still works: what users wrote keeps working.

The lists below are the contract (README.md, docs/): a name dropped from the
code fails here, whatever else moved inside the package.
"""

from __future__ import annotations

import argparse
import re
from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import reverse

from credcors.management.commands.credcors import Command

ROOT = Path(__file__).resolve().parent.parent
APP = "https://app.example.com"

IMPORT_PATHS = [
    "credcors.middleware.CredCorsMiddleware",
    "credcors.csrf.CredCorsCsrfViewMiddleware",
    "credcors.decorators.cors_policy",
    "credcors.signals.invalidate_on_commit",
    "credcors.convert.convert_settings",
    "credcors.models.AllowedOrigin",
    "credcors.models.RefusedOrigin",
    "credcors.models.validate_origin",  # referenced by migrations
    "credcors.models.validate_policy",
    "credcors.apps.CredCorsConfig",
]

SUBCOMMANDS = {
    "explain": {"--header", "--json", "--method", "--path"},
    "list": set(),
    "add": {"--by", "--expires", "--note", "--policy", "--trust-for-csrf", "--no-trust-for-csrf"},
    "disable": {"--by"},
    "enable": {"--by"},
    "remove": {"--by"},
    "prune": {"--by", "--dry-run", "--older-than"},
    "import": {"--by", "--dry-run", "--format", "--policy"},
    "export": {"--format", "--policy"},
    "convert-settings": set(),
    "install-triggers": {"--database"},
}

EXPLAIN_JSON_KEYS = {
    "allowed",
    "cause",
    "cookies",
    "csrf_trust_reason",
    "csrf_trusted",
    "exchanges",
    "hints",
    "host",
    "message",
    "origin",
    "policy",
    "policy_reason",
    "rule",
    "source",
    "verdict",
}

MIGRATIONS = [
    "0001_initial",
    "0002_revision",
    "0003_policy",
    "0004_expires_at",
    "0005_refusedorigin",
    "0006_refusedorigin_evict_by_recency",
    "0007_refusedorigin_per_policy",
    "0008_trust_for_csrf_help_text",
]

ADMIN_URL_NAMES = [
    "admin:credcors_allowedorigin_changelist",
    "admin:credcors_allowedorigin_test_origin",
    "admin:credcors_allowedorigin_import",
    "admin:credcors_allowedorigin_checks",
    "admin:credcors_refusedorigin_changelist",
]


def _resolve(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


@pytest.mark.parametrize("dotted", IMPORT_PATHS)
def test_documented_import_path_resolves(dotted: str) -> None:
    assert callable(_resolve(dotted))


def test_documented_callables_still_do_their_job() -> None:
    from django.core.exceptions import ValidationError

    from credcors.apps import CredCorsConfig
    from credcors.convert import convert_settings
    from credcors.decorators import cors_policy
    from credcors.models import validate_origin

    @cors_policy("partners")
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert getattr(view, "cors_policy", None) == "partners"
    assert APP in convert_settings({"CORS_ALLOWED_ORIGINS": [APP], "CORS_ALLOW_CREDENTIALS": True}).render()
    validate_origin(APP)
    with pytest.raises(ValidationError):
        validate_origin("ftp://x.example")
    assert CredCorsConfig.name == "credcors"


@override_settings(CREDCORS={"ALLOWED_ORIGINS": [APP], "USE_DATABASE": False})
def test_the_documented_middleware_path_answers(client: Client) -> None:
    response = client.get("/api/echo", headers={"Origin": APP})

    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def _parsers() -> dict[str, argparse.ArgumentParser]:
    parser = Command().create_parser("manage.py", "credcors")
    (sub,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize(("name", "flags"), sorted(SUBCOMMANDS.items()))
def test_documented_subcommand_keeps_its_flags(name: str, flags: set[str]) -> None:
    parser = _parsers()[name]
    options = {option for action in parser._actions for option in action.option_strings}

    assert flags <= options


def test_no_subcommand_is_a_usage_error() -> None:
    # docs/admin.md: without a subcommand, the list of subcommands and status 2.
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "credcors"])

    assert exit_info.value.code == 2


@pytest.mark.django_db
@override_settings(CREDCORS={"ALLOWED_ORIGINS": [APP]})
def test_explain_keeps_its_exit_statuses_and_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    call_command("credcors", "explain", APP, "--json")
    assert set(json.loads(capsys.readouterr().out)) == EXPLAIN_JSON_KEYS
    # docs/previews.md: status 1, with the reason, for a refused origin.
    with pytest.raises(SystemExit) as exit_info:
        call_command("credcors", "explain", "https://evil.example")
    assert exit_info.value.code == 1
    call_command("credcors", "explain", APP)  # allowed: returns, status 0


def test_every_documented_setting_key_is_parsed() -> None:
    from credcors.core.config import DEFAULTS

    documented = set(re.findall(r"^## `([A-Z_]+)`", (ROOT / "docs" / "settings.md").read_text(), re.M))

    assert documented  # the page's headings are the list
    assert documented <= set(DEFAULTS) | {"ALLOW_ALL_ORIGINS"}


def test_the_migrations_keep_their_names() -> None:
    found = {path.stem for path in (ROOT / "credcors" / "migrations").glob("0*.py")}

    assert set(MIGRATIONS) <= found


@pytest.mark.django_db
def test_the_tables_keep_their_names() -> None:
    tables = set(connection.introspection.table_names())

    assert {"credcors_allowedorigin", "credcors_refusedorigin", "credcors_revision"} <= tables


@pytest.mark.parametrize("name", ADMIN_URL_NAMES)
def test_admin_url_name_reverses(name: str) -> None:
    assert reverse(name).startswith("/admin/credcors/")


def test_the_admin_templates_keep_their_paths() -> None:
    templates = ROOT / "credcors" / "templates" / "admin" / "credcors"

    assert (templates / "allowedorigin" / "change_list.html").is_file()
