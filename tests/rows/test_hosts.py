"""Rows' hosts through import, export and the history: a scoped row is never widened by a round trip (issue 24)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from credcors.models import AllowedOrigin
from credcors.rows.import_format import parse_entries, split_line

pytestmark = pytest.mark.django_db

APP_A = "https://app.customer-a.com"
APP_B = "https://app.customer-b.com"
OPEN = "https://open.example.net"
HOST_A = "api.customer-a.com"


def run(*args: str) -> str:
    out = StringIO()
    call_command("credcors", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _rows() -> list[tuple[str, str, Any]]:
    return [(row.origin, row.hosts, row.expires_at) for row in AllowedOrigin.objects.order_by("origin")]


def _table() -> None:
    soon = timezone.now() + timedelta(days=3)
    AllowedOrigin.objects.create(
        origin=APP_A, hosts=f"{HOST_A} .customer-c.com", expires_at=soon.replace(microsecond=0)
    )
    AllowedOrigin.objects.create(origin=APP_B, hosts=".customer-b.com")
    AllowedOrigin.objects.create(origin=OPEN)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_export_then_import_into_an_empty_table_keeps_every_rows_hosts(tmp_path: Path, fmt: str) -> None:
    _table()
    before = _rows()
    path = tmp_path / f"export.{'json' if fmt == 'json' else 'txt'}"
    path.write_text(run("export", "--format", fmt))
    AllowedOrigin.objects.all().delete()

    out = run("import", str(path))

    assert out.strip().endswith("added 3, updated 0, unchanged 0.")
    assert _rows() == before
    assert AllowedOrigin.objects.get(origin=OPEN).hosts == ""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_export_then_import_over_the_same_table_changes_nothing(tmp_path: Path, fmt: str) -> None:
    _table()
    path = tmp_path / f"export.{'json' if fmt == 'json' else 'txt'}"
    path.write_text(run("export", "--format", fmt))

    assert run("import", str(path)).strip() == "added 0, updated 0, unchanged 3."


def test_text_export_writes_hosts_as_a_comment_after_the_expiry() -> None:
    _table()

    lines = run("export").splitlines()

    assert lines[1].startswith(f"{APP_A}  # expires ")
    assert lines[1].endswith(f"Z  # hosts .customer-c.com {HOST_A}")
    assert lines[2] == f"{APP_B}  # hosts .customer-b.com"
    assert lines[3] == OPEN


def test_json_export_writes_hosts_as_a_list() -> None:
    _table()

    data = {item["origin"]: item["hosts"] for item in json.loads(run("export", "--format", "json"))}

    assert data == {APP_A: [".customer-c.com", HOST_A], APP_B: [".customer-b.com"], OPEN: []}


def test_split_line_reads_hosts_and_expiry_in_either_order() -> None:
    assert split_line(f"{APP_A}  # hosts {HOST_A} .b.com  # expires 3d") == (APP_A, "3d", (HOST_A, ".b.com"))
    assert split_line(f"{APP_A}  # expires 3d  # hosts {HOST_A}") == (APP_A, "3d", (HOST_A,))
    assert split_line(f"{APP_A}  # a note  # hosts {HOST_A}  # hosts other.com") == (APP_A, None, (HOST_A,))
    assert split_line(APP_A) == (APP_A, None, None)


def test_text_line_without_hosts_keeps_an_existing_rows_hosts(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    path = tmp_path / "list.txt"
    path.write_text(f"{APP_A}\n")

    assert run("import", str(path)).strip() == "added 0, updated 0, unchanged 1."
    assert AllowedOrigin.objects.get().hosts == HOST_A


def test_import_changes_hosts_and_says_so_in_the_report_and_the_history(tmp_path: Path) -> None:
    row = AllowedOrigin.objects.create(origin=APP_A, hosts=HOST_A)
    text = tmp_path / "list.txt"
    text.write_text(f"{APP_A}  # hosts .customer-a.com\n")
    widen = tmp_path / "list.json"
    widen.write_text(json.dumps([{"origin": APP_A, "hosts": []}]))

    narrowed = run("import", str(text), "--by", "ops")
    widened = run("import", str(widen), "--by", "ops")

    assert f"  updated   {APP_A} (on hosts .customer-a.com)" in narrowed
    assert f"  updated   {APP_A} (on every host)" in widened
    assert AllowedOrigin.objects.get().hosts == ""
    messages = [entry.get_change_message() for entry in LogEntry.objects.filter(object_id=str(row.pk)).order_by("pk")]
    assert messages == ["Changed: on hosts .customer-a.com.", "Changed: on every host."]


def test_new_row_from_json_without_hosts_applies_on_every_host(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([APP_A, {"origin": APP_B}]))

    run("import", str(path))

    assert [hosts for _, hosts, _ in _rows()] == ["", ""]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            f"{OPEN}\n{APP_A}  # hosts https://{HOST_A}\n",
            f"line 2: hosts: 'https://{HOST_A}' is a URL or an origin, not a host.",
        ),
        (f"{OPEN}\n\n{APP_A}  # hosts\n", "line 3: hosts: a host is empty."),
        (f"{APP_A}  # hosts {HOST_A}:443\n", f"line 1: hosts: '{HOST_A}:443' has a port"),
    ],
)
def test_import_of_an_invalid_host_names_the_line_and_writes_nothing(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(content)

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert "; nothing was imported." in str(info.value)
    assert expected in str(info.value)
    assert not AllowedOrigin.objects.exists()


def test_import_of_a_host_allowed_hosts_never_accepts_refused(tmp_path: Path, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".customer-a.com"]
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"origin": APP_A, "hosts": [HOST_A]}, {"origin": APP_B, "hosts": ["api.other.com"]}]))

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert "1 invalid entry; nothing was imported." in str(info.value)
    assert "entry 2: hosts: ALLOWED_HOSTS (.customer-a.com) accepts no host that 'api.other.com' covers" in str(
        info.value
    )
    assert not AllowedOrigin.objects.exists()


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (HOST_A, 'entry 1: expected an origin string or {"origin": "...",'),
        ([1], "entry 1: hosts: a host must be a string, not int."),
    ],
)
def test_json_hosts_of_the_wrong_shape_refused(tmp_path: Path, hosts: Any, expected: str) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"origin": APP_A, "hosts": hosts}]))

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert expected in str(info.value)


def test_parse_entries_keeps_json_hosts_as_written() -> None:
    entries = parse_entries(json.dumps([{"origin": APP_A, "hosts": [HOST_A]}, {"origin": APP_B}]), "json", "x")

    assert [entry.hosts for entry in entries] == [(HOST_A,), None]
