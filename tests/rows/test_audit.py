"""The audit trail: every change to the allow-list in the admin's history, from the admin and the command line."""

from __future__ import annotations

import getpass
import html
import json
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from credcors.models import AllowedOrigin
from credcors.rows import audit
from tests.admin.test_origins import CHANGELIST, _bulk, _change, _form_data

pytestmark = pytest.mark.django_db

PREVIEW = "https://pr-123.preview.example.com"
PARTNER = "https://partner.example.net"


def run(*args: str) -> str:
    out = StringIO()
    call_command("credcors", *args, stdout=out)
    return out.getvalue()


def _history(row: AllowedOrigin | int) -> list[tuple[str, int, str]]:
    """(username, action flag, message) of a row's entries, oldest first."""
    pk = row if isinstance(row, int) else row.pk
    entries = LogEntry.objects.filter(object_id=str(pk)).order_by("action_time", "pk")
    return [(entry.user.get_username(), entry.action_flag, entry.get_change_message()) for entry in entries]


# -- The admin --------------------------------------------------------------------------


def test_admin_form_add_and_edit_are_in_the_history(admin_client: Client) -> None:
    admin_client.post(f"{CHANGELIST}add/", _form_data(PARTNER))
    row = AllowedOrigin.objects.get()
    data = {**_form_data(PARTNER), "expires_at_0": "2099-01-01", "expires_at_1": "12:00:00"}

    admin_client.post(_change(row.pk), data)

    assert _history(row) == [("admin", ADDITION, "Added."), ("admin", CHANGE, "Changed: expires 2099-01-01T18:00:00Z.")]


def test_bulk_actions_log_one_entry_per_changed_row(admin_client: Client) -> None:
    a = AllowedOrigin.objects.create(origin="https://a.example.net")
    b = AllowedOrigin.objects.create(origin="https://b.example.net", enabled=False)

    _bulk(admin_client, "disable_selected", a, b)  # b was disabled already: nothing to log for it.
    _bulk(admin_client, "enable_selected", a, b)

    assert _history(a) == [
        ("admin", CHANGE, "Disabled with the bulk action."),
        ("admin", CHANGE, "Enabled with the bulk action."),
    ]
    assert _history(b) == [("admin", CHANGE, "Enabled with the bulk action.")]


def test_history_page_shows_admin_and_command_line_changes_alike(admin_client: Client) -> None:
    run("add", PREVIEW, "--expires", "2099-01-01T00:00:00Z", "--note", "PR 123", "--by", "ci-bot")
    row = AllowedOrigin.objects.get()
    _bulk(admin_client, "disable_selected", row)
    run("enable", PREVIEW, "--by", "alice")

    page = html.unescape(admin_client.get(f"{CHANGELIST}{row.pk}/history/").content.decode())

    for user, text in [
        ("ci-bot", "Added: expires 2099-01-01T00:00:00Z, note."),
        ("admin", "Disabled with the bulk action."),
        ("alice", "Changed: enabled."),
    ]:
        assert user in page
        assert text in page


# -- The command line -----------------------------------------------------------------------


def test_add_logs_the_addition_and_later_changes() -> None:
    run("add", PARTNER, "--by", "alice")
    run("add", PARTNER, "--note", "EU", "--expires", "2099-01-01T00:00:00Z", "--by", "alice")
    run("add", PARTNER, "--by", "alice")  # Nothing changed: nothing logged.

    assert _history(AllowedOrigin.objects.get()) == [
        ("alice", ADDITION, "Added."),
        ("alice", CHANGE, "Changed: expires 2099-01-01T00:00:00Z, note."),
    ]


def test_enable_and_disable_log_changes_only_when_something_changed() -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER)

    run("disable", PARTNER, "--by", "bob")
    run("disable", PARTNER, "--by", "bob")
    run("enable", PARTNER, "--by", "bob")

    assert _history(row) == [
        ("bob", CHANGE, "Changed: disabled."),
        ("bob", CHANGE, "Changed: enabled."),
    ]


def test_remove_logs_the_deletion_under_the_row_id() -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER)

    run("remove", PARTNER, "--by", "carol")

    assert not AllowedOrigin.objects.exists()
    assert _history(row.pk) == [("carol", DELETION, "Removed with manage.py credcors.")]
    assert LogEntry.objects.get().object_repr == PARTNER


def test_import_logs_additions_and_changes_and_a_dry_run_nothing(tmp_path: Path) -> None:
    existing = AllowedOrigin.objects.create(origin=PARTNER, enabled=False)
    path = tmp_path / "origins.json"
    path.write_text(json.dumps([{"origin": PARTNER, "note": "EU"}, PREVIEW]))

    run("import", str(path), "--dry-run", "--by", "dave")
    assert not LogEntry.objects.exists()
    run("import", str(path), "--by", "dave")

    assert _history(existing) == [("dave", CHANGE, "Changed: enabled, note.")]
    assert _history(AllowedOrigin.objects.get(origin=PREVIEW)) == [("dave", ADDITION, "Added.")]


def test_prune_logs_each_deletion() -> None:
    old = AllowedOrigin.objects.create(origin=PARTNER, expires_at=timezone.now() - timedelta(days=30))
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=timezone.now() - timedelta(days=1))

    run("prune", "--dry-run", "--by", "erin")
    assert not LogEntry.objects.exists()
    run("prune", "--by", "erin")

    [(user, flag, message)] = _history(old.pk)
    assert (user, flag) == ("erin", DELETION)
    assert message.startswith("Pruned: expired ")
    assert message.endswith("Z with manage.py credcors.")
    assert LogEntry.objects.count() == 1


# -- Who --------------------------------------------------------------------------------------


def test_name_without_a_user_gets_an_inactive_user_that_cannot_log_in() -> None:
    run("add", PARTNER, "--by", "ci-bot")
    run("disable", PARTNER, "--by", "ci-bot")

    user = User.objects.get(username="ci-bot")
    assert (user.is_active, user.is_staff, user.is_superuser, user.has_usable_password()) == (
        False,
        False,
        False,
        False,
    )
    assert User.objects.filter(username="ci-bot").count() == 1
    assert not Client().login(username="ci-bot", password="")


def test_name_of_an_existing_user_is_that_user(admin_user: User) -> None:
    run("add", PARTNER, "--by", "admin")

    assert LogEntry.objects.get().user == admin_user
    assert User.objects.count() == 1


def test_default_is_the_operating_system_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "deploy")

    run("add", PARTNER)

    assert _history(AllowedOrigin.objects.get())[0][0] == "deploy"


@pytest.mark.parametrize("error", [OSError, KeyError])
def test_default_without_an_operating_system_user_name_is_the_uid(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    # A container running as a bare uid: no LOGNAME, no passwd entry.
    def fail() -> str:
        raise error("no user name")

    monkeypatch.setattr(getpass, "getuser", fail)

    assert audit.default_actor().startswith("uid-")


@pytest.mark.parametrize("name", ["two words", "a" * 151, ""])
def test_invalid_name_refused_and_nothing_changed(name: str) -> None:
    with pytest.raises(CommandError, match=r"--by .* is not a valid user name"):
        run("add", PARTNER, "--by", name)
    assert not AllowedOrigin.objects.exists()


def test_name_that_cannot_be_stored_as_a_user_refused_and_nothing_changed() -> None:
    def fail_user_insert(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if sql.startswith('INSERT INTO "auth_user"'):
            raise OperationalError("a custom user model needs more fields")
        return execute(sql, *args)

    with connection.execute_wrapper(fail_user_insert), pytest.raises(CommandError, match="cannot create a user"):
        run("add", PARTNER, "--by", "frank")
    assert not AllowedOrigin.objects.exists()


def test_without_the_admin_installed_changes_are_not_logged(settings: Any) -> None:
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django.contrib.admin"]

    run("add", PARTNER, "--by", "gina")

    assert AllowedOrigin.objects.exists()
    assert not LogEntry.objects.exists()


def test_admin_import_page_logs_like_the_command(admin_client: Client, admin_user: User) -> None:
    previewed = admin_client.post(f"{CHANGELIST}import/", {"text": f"{PARTNER}\n", "format": "text"})
    admin_client.post(f"{CHANGELIST}import/", {"token": previewed.context["token"], "_confirm": "1"})

    row = AllowedOrigin.objects.get()
    [(username, flag, message)] = _history(row)
    # In the words of every other addition (tests/rows/test_edit.py): the user says who.
    assert (username, flag, message) == (admin_user.get_username(), ADDITION, "Added.")
