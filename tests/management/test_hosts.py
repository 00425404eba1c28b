"""``manage.py credcors`` names an origin's hosts: ``add --host``, ``list``, ``explain --host`` (issue 24)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from credcors.models import AllowedOrigin

pytestmark = pytest.mark.django_db

APP_A = "https://app.customer-a.com"
HOST_A = "api.customer-a.com"
HOST_B = "api.customer-b.com"


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("credcors", *args, stdout=out, stderr=StringIO())
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _history() -> list[str]:
    return [entry.get_change_message() for entry in LogEntry.objects.order_by("pk")]


# -- add --host ------------------------------------------------------------------------------


def test_add_with_hosts_stores_them_canonical_and_says_so() -> None:
    _, out = run("add", APP_A, "--host", "API.Customer-A.com", "--host", ".customer-b.com", "--by", "ops")

    assert AllowedOrigin.objects.get().hosts == f".customer-b.com {HOST_A}"
    assert out.strip() == f"Added {APP_A} (on hosts .customer-b.com {HOST_A})."
    assert _history() == [f"Added: on hosts .customer-b.com {HOST_A}."]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://api.customer-a.com", "--host: 'https://api.customer-a.com' is a URL or an origin, not a host."),
        ("api.customer-a.com:8443", "--host: 'api.customer-a.com:8443' has a port;"),
        ("*.customer-a.com", "--host: '*.customer-a.com' is a wildcard;"),
    ],
)
def test_add_with_an_invalid_host_refused_and_writes_nothing(host: str, expected: str) -> None:
    with pytest.raises(CommandError) as info:
        run("add", APP_A, "--host", host, "--by", "nobody-yet")

    assert str(info.value).startswith(expected)
    assert not AllowedOrigin.objects.exists()
    assert not User.objects.exists()


def test_add_with_a_host_allowed_hosts_never_accepts_refused(settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".customer-a.com"]

    with pytest.raises(CommandError) as info:
        run("add", APP_A, "--host", HOST_A, "--host", HOST_B)

    assert str(info.value) == (
        f"--host: ALLOWED_HOSTS (.customer-a.com) accepts no host that '{HOST_B}' covers, so the origin would "
        "never be allowed there. Correct the host, or add it to ALLOWED_HOSTS first."
    )
    assert not AllowedOrigin.objects.exists()


def test_add_with_empty_allowed_hosts_says_they_are_empty(settings: Any) -> None:
    settings.ALLOWED_HOSTS = []

    with pytest.raises(CommandError, match=r"ALLOWED_HOSTS \(empty\) accepts no host"):
        run("add", APP_A, "--host", HOST_A)


def test_add_host_on_an_existing_row_replaces_its_hosts_and_says_what_they_were() -> None:
    run("add", APP_A)

    _, narrowed = run("add", APP_A, "--host", HOST_A)
    _, moved = run("add", APP_A, "--host", HOST_B)

    assert narrowed.strip() == f"{APP_A} was already listed: now on hosts {HOST_A} (was on every host)."
    assert moved.strip() == f"{APP_A} was already listed: now on hosts {HOST_B} (was on hosts {HOST_A})."
    assert AllowedOrigin.objects.get().hosts == HOST_B
    assert _history()[1:] == [f"Changed: on hosts {HOST_A}.", f"Changed: on hosts {HOST_B}."]


def test_add_every_host_widens_an_existing_row_again() -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)

    _, out = run("add", APP_A, "--every-host")

    assert out.strip() == f"{APP_A} was already listed: now on every host (was on hosts {HOST_A})."
    assert AllowedOrigin.objects.get().hosts == ""
    assert _history() == ["Changed: on every host."]


def test_add_without_host_keeps_an_existing_rows_hosts_and_names_them() -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)

    _, same = run("add", APP_A)
    _, again = run("add", APP_A, "--host", HOST_A)

    expected = f"{APP_A} is already listed and enabled (on hosts {HOST_A}); nothing changed."
    assert same.strip() == again.strip() == expected
    assert AllowedOrigin.objects.get().hosts == HOST_A


def test_add_host_and_every_host_together_refused() -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("add", APP_A, "--host", HOST_A, "--every-host")


# -- list ------------------------------------------------------------------------------------


def test_list_shows_each_rows_hosts_and_each_policys(settings: Any) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["https://app.example.com"],
        "HOSTS": [HOST_A],
        "POLICIES": {
            "partners": {"ALLOWED_ORIGINS": ["https://p.example.net"], "HOSTS": [".customer-b.com"]},
            "nowhere": {"ALLOWED_ORIGINS": ["https://n.example.net"], "HOSTS": []},
            "everywhere": {"ALLOWED_ORIGINS": ["https://e.example.net"]},
        },
    }
    AllowedOrigin.objects.create(origin=APP_A, hosts=f"{HOST_A} .customer-c.com")
    AllowedOrigin.objects.create(origin="https://b.example.net")

    _, out = run("list")

    assert f"From settings (CREDCORS['ALLOWED_ORIGINS']): 1, on hosts {HOST_A} (CREDCORS['HOSTS'])" in out
    assert (
        "Policy 'partners' from settings (CREDCORS['POLICIES']['partners']['ALLOWED_ORIGINS']): 1, "
        "on hosts .customer-b.com (CREDCORS['POLICIES']['partners']['HOSTS'])"
    ) in out
    assert "1, on no host (CREDCORS['POLICIES']['nowhere']['HOSTS'])" in out
    assert "Policy 'everywhere' from settings (CREDCORS['POLICIES']['everywhere']['ALLOWED_ORIGINS']): 1\n" in out
    assert f"  enabled   {APP_A}  on hosts .customer-c.com {HOST_A}\n" in out
    assert "  enabled   https://b.example.net\n" in out


# -- explain --host ----------------------------------------------------------------------------


def test_explain_host_decides_for_that_host() -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)

    allowed, on_a = run("explain", APP_A, "--host", f"{HOST_A}:8443")
    refused, on_b = run("explain", APP_A, "--host", HOST_B)

    assert allowed == 0
    assert f'Host:     "{HOST_A}"' in on_a
    assert f"Allowed on this host through its host scope {HOST_A}" in on_a
    assert refused == 1
    assert "Verdict:  REFUSED (other-host)" in on_b
    assert f"is allowed on {HOST_A}, not on this host ({HOST_B})" in on_b


def test_explain_without_host_says_which_hosts_allow_the_origin() -> None:
    row = AllowedOrigin.objects.create(origin=APP_A, hosts=f"{HOST_A} {HOST_B}")

    status, out = run("explain", APP_A, "--json")

    data = json.loads(out)
    assert status == 1
    assert data["cause"] == "host-scoped"
    assert data["host"] is None
    assert data["message"].startswith(f"{APP_A} is allowed only on hosts {HOST_A} {HOST_B} (database row {row.pk})")


def test_explain_host_django_refuses_is_a_disallowed_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".customer-a.com"]

    status, out = run("explain", "https://app.example.com", "--host", "evil.example")

    assert status == 1
    assert "Verdict:  REFUSED (disallowed-host)" in out
    assert 'The host "evil.example" is not one ALLOWED_HOSTS accepts (.customer-a.com).' in out


def test_explain_host_with_empty_allowed_hosts_says_none(settings: Any) -> None:
    settings.ALLOWED_HOSTS = []

    _, out = run("explain", "https://app.example.com", "--host", HOST_A)

    assert "is not one ALLOWED_HOSTS accepts (none)." in out
