"""The one write path: the same change makes the same history entry, whoever makes it and however."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from credcors.models import AllowedOrigin, RefusedOrigin
from credcors.rows.edit import message
from tests.helpers import staff_client

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.net"
POLICY = "partners"
#: The note "Allow selected" writes for an origin refused 3 times: every path sets the same one.
NOTE = "allowed from the refused origins (3 refused)"
ALL_PERMISSIONS = ("add_allowedorigin", "change_allowedorigin", "view_allowedorigin", "view_refusedorigin")


@pytest.fixture(autouse=True)
def _partners(settings: Any) -> None:
    settings.CREDCORS = {**settings.CREDCORS, "POLICIES": {POLICY: {"USE_DATABASE": True}}}


def _through_admin(client: Client, *, enabled: bool = True) -> None:
    row = AllowedOrigin.objects.filter(origin=ORIGIN).first()
    data = {"origin": ORIGIN, "note": NOTE, "policy": POLICY, **({"enabled": "on"} if enabled else {})}
    url = "/admin/credcors/allowedorigin/" + ("add/" if row is None else f"{row.pk}/change/")
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]


def _through_command(client: Client) -> None:
    call_command("credcors", "add", ORIGIN, "--policy", POLICY, "--note", NOTE, "--by", "staff")


def _through_import(client: Client) -> None:
    text = json.dumps([{"origin": ORIGIN, "policy": POLICY, "note": NOTE, "enabled": True}])
    previewed = client.post("/admin/credcors/allowedorigin/import/", {"text": text, "format": "json"})
    token = previewed.context["token"]
    assert token, previewed.content[:2000]
    client.post("/admin/credcors/allowedorigin/import/", {"token": token, "_confirm": "1"})


def _through_allow_selected(client: Client) -> None:
    now = timezone.now()
    refused = RefusedOrigin.objects.create(
        origin=ORIGIN, count=3, first_seen=now, last_seen=now, last_path="/api/me", policy=POLICY
    )
    client.post("/admin/credcors/refusedorigin/", {"action": "allow_selected", "_selected_action": [str(refused.pk)]})


WAYS: dict[str, Callable[[Client], None]] = {
    "admin": _through_admin,
    "command": _through_command,
    "import": _through_import,
    "allow selected": _through_allow_selected,
}


def _last_entry() -> tuple[int, str]:
    entry = LogEntry.objects.order_by("-pk").first()
    assert entry is not None
    assert entry.object_repr == ORIGIN
    assert entry.user.get_username() == "staff"
    return entry.action_flag, entry.get_change_message()


def test_every_way_of_adding_and_enabling_a_row_writes_the_same_history_entry(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = staff_client(*ALL_PERMISSIONS)
    seen: dict[str, list[tuple[int, str]]] = {}

    def run(way: Callable[[Client], None]) -> None:
        # The commit hooks reload this process's allow-list, as after a real request.
        with django_capture_on_commit_callbacks(execute=True):
            way(client)

    for name, way in WAYS.items():
        run(lambda client: AllowedOrigin.objects.all().delete() and None)
        run(way)
        added = _last_entry()
        # The same row, disabled in the admin, then enabled again this way.
        run(lambda client: _through_admin(client, enabled=False))
        run(way)
        row = AllowedOrigin.objects.get(origin=ORIGIN)
        assert (row.enabled, row.policy, row.note) == (True, POLICY, NOTE), name
        seen[name] = [added, _last_entry()]

    expected = [(ADDITION, "Added: policy partners, note."), (CHANGE, "Changed: enabled.")]
    assert seen == dict.fromkeys(WAYS, expected)


def test_the_admin_words_a_save_that_changes_nothing_as_django_does() -> None:
    client = staff_client(*ALL_PERMISSIONS)
    _through_admin(client)
    _through_admin(client)

    assert _last_entry() == (CHANGE, "No fields changed.")


def test_every_field_has_its_words() -> None:
    row = AllowedOrigin(origin=ORIGIN, enabled=False, trust_for_csrf=True, note="n")
    assert message(row, created=True, changed=("enabled", "trust_for_csrf", "expires_at", "note")) == (
        "Added: disabled, trusted for CSRF, no expiry, note."
    )
    row.trust_for_csrf = False
    assert message(row, created=False, changed=("trust_for_csrf",)) == "Changed: not trusted for CSRF."
    assert message(row, created=True, changed=()) == "Added."
