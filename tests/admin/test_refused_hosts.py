"""Refused origins per host in the admin (issue 24): the Host column, and "Allow selected" on the host refused."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client, TestCase

from credcors.core.scopes import MAX_SCOPE_ENTRIES
from credcors.models import AllowedOrigin, RefusedOrigin
from tests.helpers import allowed

pytestmark = pytest.mark.django_db

capture_on_commit_callbacks = TestCase.captureOnCommitCallbacks
CHANGELIST = "/admin/credcors/refusedorigin/"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
PARTNER = "https://partner.example.net"
HOST_A, HOST_B = "api.customer-a.com", "api.customer-b.com"


def _refused(origin: str = PARTNER, host: str = "", count: int = 1) -> RefusedOrigin:
    row: RefusedOrigin = RefusedOrigin.objects.create(
        origin=origin, count=count, first_seen=NOW, last_seen=NOW, last_path="/api/me", host=host
    )
    return row


def _allow(client: Client, *rows: RefusedOrigin) -> Any:
    with capture_on_commit_callbacks(execute=True):
        return client.post(
            CHANGELIST, {"action": "allow_selected", "_selected_action": [str(row.pk) for row in rows]}, follow=True
        )


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _left() -> list[tuple[str, str]]:
    return sorted(RefusedOrigin.objects.values_list("origin", "host"))


def test_changelist_and_entry_page_show_the_host_or_unknown(admin_client: Client) -> None:
    scoped = _refused(host=HOST_A)
    _refused("https://old.example.net")

    listed = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{scoped.pk}/change/").content.decode()

    # Under the origin in the list (a column of its own would not fit at 1280 px), apart on the entry's page.
    assert f'{PARTNER}<br><span class="credcors-host">on api.<wbr>customer-a.<wbr>com</span></a></th>' in listed
    assert "https://old.example.net</a></th>" in listed
    assert f'<div class="readonly">{HOST_A}</div>' in page
    old = admin_client.get(f"{CHANGELIST}{RefusedOrigin.objects.get(host='').pk}/change/").content.decode()
    assert '<div class="readonly">unknown</div>' in old


def test_search_finds_entries_by_host(admin_client: Client) -> None:
    _refused(host=HOST_A)
    _refused(host=HOST_B)

    response = admin_client.get(CHANGELIST, {"q": "customer-b"})

    assert [row.host for row in response.context["cl"].result_list] == [HOST_B]


def test_an_entry_is_hidden_once_allowed_on_its_host_only(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts=HOST_A)
    _refused(host=HOST_A)
    _refused(host=HOST_B)
    _refused(host="")  # Recorded before hosts were: only a row of every host allows it.

    response = admin_client.get(CHANGELIST)

    assert sorted(row.host for row in response.context["cl"].result_list) == ["", HOST_B]


def test_allow_selected_adds_a_row_scoped_to_the_host_refused(admin_client: Client) -> None:
    on_a = _refused(host=HOST_A, count=3)
    _refused(host=HOST_B)

    response = _allow(admin_client, on_a)

    assert _messages(response) == [f"Allowed 1 origin: {PARTNER} on {HOST_A}."]
    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == HOST_A
    assert _left() == [(PARTNER, HOST_B)]  # Still refused there.
    assert allowed(Client(headers={"Host": HOST_A}), PARTNER)
    assert not allowed(Client(headers={"Host": HOST_B}), PARTNER)


def test_allow_selected_of_an_entry_without_a_host_adds_a_row_of_every_host(admin_client: Client) -> None:
    _allow(admin_client, _refused(host=""))

    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == ""


def test_allow_selected_of_two_hosts_gives_the_one_row_both(admin_client: Client) -> None:
    response = _allow(admin_client, _refused(host=HOST_A, count=2), _refused(host=HOST_B))

    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == f"{HOST_A} {HOST_B}"
    # The most refused first: added on its host, then given the other one.
    assert _messages(response) == [
        f"The row of {PARTNER} now allows it on {HOST_B} too: its hosts are {HOST_A} {HOST_B}.",
        f"Allowed 2 origins: {PARTNER} on {HOST_A}, {PARTNER} on {HOST_B}.",
    ]
    assert _left() == []


def test_allow_selected_enables_a_disabled_row_and_adds_the_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts=HOST_A, enabled=False)

    _allow(admin_client, _refused(host=HOST_B))

    row = AllowedOrigin.objects.get(origin=PARTNER)
    assert (row.enabled, row.hosts) == (True, f"{HOST_A} {HOST_B}")


def test_allow_selected_enables_a_disabled_row_that_covers_the_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts=".customer-a.com", enabled=False)

    response = _allow(admin_client, _refused(host=HOST_A))

    row = AllowedOrigin.objects.get(origin=PARTNER)
    assert (row.enabled, row.hosts) == (True, ".customer-a.com")
    assert _messages(response) == [f"Allowed 1 origin: {PARTNER} on {HOST_A}."]


def test_allow_selected_of_a_row_saved_elsewhere_on_the_host_only_clears_the_entry(admin_client: Client) -> None:
    allowed(Client(), "https://other.example.net")  # This process compiles its list before the row exists.
    AllowedOrigin.objects.create(origin=PARTNER, hosts=".customer-a.com")  # Another process saved it meanwhile.

    response = _allow(admin_client, _refused(host=HOST_A))

    assert _messages(response) == [
        f"Already allowed by the policy that refused it, so only cleared from the list: {PARTNER} on {HOST_A}."
    ]
    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == ".customer-a.com"


def test_allow_selected_never_widens_a_scoped_row_to_every_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts=HOST_A)

    response = _allow(admin_client, _refused(host=""))

    [said] = _messages(response)
    assert said.startswith(f"Left in the list: the row of {PARTNER} allows it only on {HOST_A}")
    assert "would allow it on every host" in said
    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == HOST_A
    assert _left() == [(PARTNER, "")]


def test_allow_selected_keeps_an_entry_whose_host_no_row_can_name(admin_client: Client) -> None:
    # Django accepts it with ALLOWED_HOSTS = ["*"]; a row's hosts never could.
    response = _allow(admin_client, _refused(host="api..customer-a.com"))

    [said] = _messages(response)
    assert said.startswith(f"Still refused: {PARTNER} on api..customer-a.com, since 'api..customer-a.com' is not")
    assert not AllowedOrigin.objects.exists()
    assert _left() == [(PARTNER, "api..customer-a.com")]


def test_allow_selected_keeps_an_entry_whose_host_allowed_hosts_no_longer_accepts(
    admin_client: Client, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["testserver", HOST_A]

    response = _allow(admin_client, _refused(host=HOST_B))

    [said] = _messages(response)
    assert said.startswith(f"Left in the list: {PARTNER} was refused on the host {HOST_B}, which ALLOWED_HOSTS")
    assert not AllowedOrigin.objects.exists()


def test_allow_selected_keeps_the_entry_when_the_row_names_all_the_hosts_it_may(admin_client: Client) -> None:
    full = AllowedOrigin.objects.create(
        origin=PARTNER, hosts=" ".join(f"api{i}.example.com" for i in range(MAX_SCOPE_ENTRIES))
    ).hosts

    response = _allow(admin_client, _refused(host=HOST_A))

    [said] = _messages(response)
    assert said.startswith(f"Still refused: {MAX_SCOPE_ENTRIES + 1} hosts is more than {MAX_SCOPE_ENTRIES}")
    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == full
    assert _left() == [(PARTNER, HOST_A)]
