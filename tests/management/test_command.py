"""``manage.py credcors``: explain, list, add, disable, enable, remove, import, export."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shlex
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from credcors.models import AllowedOrigin
from credcors.rows.import_format import parse_entries, split_comment

PARTNER = "https://partner.example.net"

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    """Run the command; return (exit status, stdout)."""
    out = StringIO()
    try:
        call_command("credcors", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _assert_terminal_safe(text: str) -> None:
    for line in text.split("\n"):
        assert line.isprintable(), repr(line)
        assert line.isascii(), repr(line)


# -- explain ---------------------------------------------------------------------


def test_explain_allowed_origin_exits_zero_with_rule_and_headers() -> None:
    status, out = run("explain", "https://app.example.com", "--method", "PUT", "--header", "Content-Type")

    assert status == 0
    assert "Verdict:  ALLOWED (allowed)" in out
    assert "https://app.example.com is allowed by https://app.example.com (settings)." in out
    assert "-> 204" in out
    assert "  access-control-allow-headers: accept, authorization, content-type, x-csrftoken, x-requested-with" in out
    assert "  access-control-allow-credentials: true" in out
    assert "  vary: Origin" in out


def test_explain_refused_origin_exits_one_with_reason() -> None:
    status, out = run("explain", "http://app.example.com")

    assert status == 1
    assert "Verdict:  REFUSED (scheme-differs)" in out
    assert "you allowed https://app.example.com (settings); this request came from http://app.example.com" in out


def test_explain_disabled_row_names_row() -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER, enabled=False, note="paused")

    status, out = run("explain", PARTNER)

    assert status == 1
    assert f"database row {row.pk} ({PARTNER}) would allow {PARTNER}, but it is disabled." in out


def test_explain_header_not_allowed_names_header() -> None:
    status, out = run("explain", "https://app.example.com", "--header", "X-Api-Key")

    assert status == 1
    assert "Verdict:  REFUSED (header-not-allowed)" in out
    assert 'request header "x-api-key", not in' in out
    assert "-> 204" in out
    assert "access-control-allow-headers: accept, authorization, content-type, x-csrftoken, x-requested-with" in out


def test_explain_same_site_origin_prints_cookie_verdict(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    status, out = run("explain", "https://app.example.com")

    assert status == 0
    line = "https://app.example.com is on the API's site (https://example.com): cookies are same-site."
    assert f"\nCookies:  {line}\n" in out


def test_explain_cross_site_origin_prints_which_cookies_stay_home(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.net"]}

    status, out = run("explain", "https://app.example.net")

    assert status == 0
    assert (
        "Cookies:  https://app.example.net is on another site (https://example.net) than the API.\n"
        "          The session cookie does not travel from there: SESSION_COOKIE_SAMESITE is 'Lax'; "
        "it needs 'None' with SESSION_COOKIE_SECURE = True.\n"
    ) in out
    assert "Safari and Firefox block third-party cookies by default" in out


def test_explain_json_carries_cookie_verdict_any_host_cannot_tell(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]

    status, out = run("explain", "https://app.example.com", "--json")

    assert status == 0
    assert json.loads(out)["cookies"] == [
        "Cannot tell whether https://app.example.com is on the API's site: ALLOWED_HOSTS names no concrete host."
    ]


def test_explain_refused_origin_prints_no_cookie_verdict(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    status, out = run("explain", "https://evil.example")

    assert status == 1
    assert "Cookies:" not in out


def test_explain_path_checked_against_urls_regex(settings) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "URLS_REGEX": r"^/api/"}

    status, out = run("explain", "https://app.example.com", "--path", "/other/")

    assert status == 1
    assert "Verdict:  REFUSED (path-not-covered)" in out
    assert "Headers:  none" in out


def test_explain_json_is_machine_readable() -> None:
    status, out = run("explain", "https://app.example.com", "--json")

    data = json.loads(out)
    assert status == 0
    assert data["verdict"] == "allowed"
    assert data["rule"] == "https://app.example.com"
    assert data["exchanges"][0]["response_headers"][0] == ["access-control-allow-origin", "https://app.example.com"]


def test_explain_names_a_rows_csrf_trust_and_why(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "TRUST_FOR_CSRF": True}
    AllowedOrigin.objects.create(origin=PARTNER)

    _, out = run("explain", PARTNER)
    _, data = run("explain", PARTNER, "--json")

    assert (
        "CSRF:     trusted for CSRF: CREDCORS['TRUST_FOR_CSRF'] is True, which trusts every exact row of the "
        "default policy, ticked or not\n"
    ) in out
    assert json.loads(data)["csrf_trusted"] is True
    assert json.loads(data)["csrf_trust_reason"].startswith("trusted for CSRF: CREDCORS['TRUST_FOR_CSRF'] is True")


def test_explain_reads_the_rows_box(settings: Any) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, trust_for_csrf=True)

    _, out = run("explain", PARTNER)

    assert "CSRF:     trusted for CSRF: its trust_for_csrf box is ticked\n" in out


def test_explain_json_refused_exits_one() -> None:
    status, out = run("explain", "null", "--json")

    assert status == 1
    assert json.loads(out)["cause"] == "null-origin"


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com\r\nX-Injected: 1",
        "https://app.example.com\x1b]0;pwned\x07",
        "https://\u202eelpmaxe.com",
        "A" * 200_000,
    ],
)
def test_explain_hostile_origin_output_terminal_safe_and_bounded(origin: str) -> None:
    status, out = run("explain", origin, "--method", "GET\x1b[2J", "--header", "x\r\ny", "--path", "/\r\n")

    assert status == 1
    _assert_terminal_safe(out)
    assert len(out) < 5000


def test_explain_hostile_origin_json_escapes_everything() -> None:
    status, out = run("explain", "https://a.example\r\n\x1b", "--json")

    assert status == 1
    assert "\r" not in out
    assert "\x1b" not in out
    assert json.loads(out)["origin"] == "https://a.example\\x0d\\x0a\\x1b"


# -- list / add / disable / enable / remove ---------------------------------------


def test_add_stores_canonical_form_and_says_so() -> None:
    status, out = run("add", "HTTPS://Partner.Example.NET:443/", "--note", "EU partner")

    assert status == 0
    row = AllowedOrigin.objects.get()
    assert row.origin == PARTNER
    assert row.note == "EU partner"
    assert f"Added {PARTNER} (you wrote" in out


def test_add_to_an_allow_all_policy_warns_on_stderr(settings: Any) -> None:
    settings.CREDCORS = {"POLICIES": {"public": {"ALLOW_ALL_ORIGINS": True}}}
    err = StringIO()

    call_command("credcors", "add", PARTNER, "--policy", "public", stdout=StringIO(), stderr=err)
    call_command("credcors", "add", PARTNER, "--policy", "public", "--note", "again", stdout=StringIO(), stderr=err)

    assert AllowedOrigin.objects.get().policy == "public"
    warning = (
        "Warning: The policy 'public' answers every origin with '*' "
        '(CREDCORS["POLICIES"][\'public\']["ALLOW_ALL_ORIGINS"]) and takes no rows: this row allows nothing, '
        "and its CSRF trust counts nowhere.\n"
    )
    # The first add also says it created the user it records the change as.
    assert [line + "\n" for line in err.getvalue().splitlines() if line.startswith("Warning:")] == [warning] * 2


def test_add_invalid_origin_refused_with_validator_message() -> None:
    with pytest.raises(CommandError, match=r"would cover a whole top-level domain"):
        run("add", "https://*.com")
    assert not AllowedOrigin.objects.exists()


def test_add_pattern_over_private_suffixes_refused_naming_one() -> None:
    with pytest.raises(CommandError) as info:
        run("add", "https://*.amazonaws.com")

    assert str(info.value).startswith(
        "'https://*.amazonaws.com' is not an allowed origin: https://*.amazonaws.com would allow hosts under "
        "'s3.amazonaws.com', a public suffix anyone can register under"
    )
    assert "List exact origins instead" in str(info.value)
    assert not AllowedOrigin.objects.exists()


def test_add_pattern_over_a_domain_of_one_owner_is_stored() -> None:
    status, _ = run("add", "https://*.example.com")

    assert status == 0
    assert AllowedOrigin.objects.get().origin == "https://*.example.com"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("origins.txt", "https://ok.example.net\nhttps://*.amazonaws.com\n"),
        ("origins.json", json.dumps(["https://ok.example.net", {"origin": "https://*.amazonaws.com"}])),
    ],
)
def test_import_pattern_over_private_suffixes_refused_nothing_applied(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert "1 invalid entry; nothing was imported." in str(info.value)
    assert "'https://*.amazonaws.com' is not an allowed origin" in str(info.value)
    assert "hosts under 's3.amazonaws.com'" in str(info.value)
    assert not AllowedOrigin.objects.exists()


def test_add_insecure_origin_refused_like_admin() -> None:
    with pytest.raises(CommandError, match=r"plain http:// origins"):
        run("add", "http://intranet.example.net")


def test_add_hostile_origin_refused_without_raw_echo() -> None:
    with pytest.raises(CommandError) as info:
        run("add", "https://a.example\r\nInjected\x1b" + "x" * 10_000)

    message = str(info.value)
    _assert_terminal_safe(message)
    assert len(message) < 1000
    assert not AllowedOrigin.objects.exists()


def test_add_existing_disabled_row_reenables_it() -> None:
    AllowedOrigin.objects.create(origin=PARTNER, enabled=False)

    status, out = run("add", PARTNER)

    assert status == 0
    assert AllowedOrigin.objects.get().enabled
    assert "already listed: enabled" in out


def test_add_existing_enabled_row_changes_nothing() -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    _, out = run("add", PARTNER)

    assert "nothing changed" in out


@pytest.fixture
def concurrent_insert() -> Any:
    """Have "another writer" insert origins right after the command reads the table.

    As in a race between two admins: the row appears between credcors'
    SELECT and its own INSERT of the same origin.
    """
    from django.db import connection

    targets: dict[str, bool] = {}

    def insert_after_read(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("SELECT") and "credcors_allowedorigin" in sql and targets:
            rows = [AllowedOrigin(origin=origin, enabled=enabled) for origin, enabled in targets.items()]
            targets.clear()
            AllowedOrigin.objects.bulk_create(rows)
        return result

    with connection.execute_wrapper(insert_after_read):
        yield targets


def test_add_racing_another_insert_updates_their_row(concurrent_insert: dict[str, bool]) -> None:
    concurrent_insert[PARTNER] = False  # They add it disabled.

    status, out = run("add", PARTNER, "--note", "ours")

    assert status == 0
    row = AllowedOrigin.objects.get()
    assert (row.enabled, row.note) == (True, "ours")
    assert "already listed: enabled, note updated" in out


def test_add_racing_an_insert_and_a_delete_refused_clearly() -> None:
    # The other writer's row blocks ours, then is gone by the time we look
    # for it: here it is written inside our savepoint, so rolling that back
    # removes it, as a concurrent delete would.
    from django.db import connection

    pending = [PARTNER]

    def insert_before_ours(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("INSERT") and "credcors_allowedorigin" in sql and pending:
            AllowedOrigin.objects.bulk_create([AllowedOrigin(origin=pending.pop())])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(insert_before_ours), pytest.raises(CommandError, match="Run the command again"):
        run("add", PARTNER)

    assert not AllowedOrigin.objects.exists()


def test_import_racing_another_insert_refused_as_a_whole(tmp_path: Path, concurrent_insert: dict[str, bool]) -> None:
    path = tmp_path / "origins.txt"
    path.write_text("https://a.example.net\nhttps://b.example.net\n", encoding="utf-8")
    concurrent_insert["https://b.example.net"] = True
    out = StringIO()

    with pytest.raises(CommandError, match=r"another process added some of these origins.*nothing was imported"):
        call_command("credcors", "import", str(path), stdout=out)

    assert not AllowedOrigin.objects.filter(origin="https://a.example.net").exists()
    assert "added" not in out.getvalue()


def test_disable_then_enable_flips_row_and_takes_effect(client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    _, out = run("disable", "https://PARTNER.example.net/")
    assert out.strip() == f"Disabled {PARTNER}."
    assert not AllowedOrigin.objects.get().enabled
    assert "access-control-allow-origin" not in client.get("/api/echo", headers={"Origin": PARTNER}).headers

    _, out = run("enable", PARTNER)
    assert out.strip() == f"Enabled {PARTNER}."
    assert AllowedOrigin.objects.get().enabled


def test_disable_twice_says_nothing_changed() -> None:
    AllowedOrigin.objects.create(origin=PARTNER, enabled=False)

    _, out = run("disable", PARTNER)

    assert "already disabled; nothing changed" in out


def test_remove_deletes_row() -> None:
    AllowedOrigin.objects.create(origin=PARTNER)

    _, out = run("remove", PARTNER)

    assert out.strip() == f"Removed {PARTNER}."
    assert not AllowedOrigin.objects.exists()


def test_remove_unknown_origin_refused() -> None:
    with pytest.raises(CommandError, match=r"no database row for https://nobody\.example"):
        run("remove", "https://nobody.example")


def test_disable_settings_origin_says_edit_settings() -> None:
    with pytest.raises(CommandError, match=r"is listed in settings"):
        run("disable", "https://app.example.com")


def test_enable_malformed_origin_refused_with_reason() -> None:
    with pytest.raises(CommandError, match=r"it has a path"):
        run("enable", "https://a.example/path")


def test_list_shows_settings_and_rows_with_state() -> None:
    AllowedOrigin.objects.create(origin=PARTNER, note="line one\nline two\x1b")
    AllowedOrigin.objects.create(origin="https://old.example.net", enabled=False)

    _, out = run("list")

    assert "From settings (CREDCORS['ALLOWED_ORIGINS']): 3" in out
    assert "  https://app.example.com" in out
    assert "From the database: 2" in out
    assert "  disabled  https://old.example.net" in out
    assert f'  enabled   {PARTNER}  "line one\\x0aline two\\x1b"' in out
    _assert_terminal_safe(out)


def test_list_shows_every_policys_settings_and_which_rows_are_ignored(settings: Any) -> None:
    settings.CREDCORS = {
        "USE_DATABASE": False,
        "ALLOWED_ORIGINS": ["https://app.example.com"],
        "POLICIES": {
            "partners": {"USE_DATABASE": True, "ALLOWED_ORIGINS": ["https://b2b.example.org"]},
            "public": {"ALLOW_ALL_ORIGINS": True},
        },
    }
    AllowedOrigin.objects.create(origin=PARTNER, policy="partners")
    AllowedOrigin.objects.create(origin="https://unread.example.net")

    _, out = run("list")

    assert out.splitlines() == [
        "From settings (CREDCORS['ALLOWED_ORIGINS']): 1",
        "  https://app.example.com",
        "Policy 'partners' from settings (CREDCORS['POLICIES']['partners']['ALLOWED_ORIGINS']): 1",
        "  https://b2b.example.org",
        "Policy 'public': every origin, answered with '*' (CREDCORS['POLICIES']['public']['ALLOW_ALL_ORIGINS'])",
        "From the database: 2",
        f'  enabled   {PARTNER}  [policy "partners"]',
        "  enabled   https://unread.example.net  (ignored: its policy takes no rows)",
    ]


def test_list_shows_the_csrf_trust_in_force_and_who_gives_it(settings: Any) -> None:
    settings.CREDCORS = {
        "ALLOWED_ORIGINS": ["https://app.example.com"],
        "TRUST_FOR_CSRF": True,
        "POLICIES": {"readers": {"USE_DATABASE": True}},
    }
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin="https://ticked.example.net", trust_for_csrf=True, enabled=False)
    AllowedOrigin.objects.create(origin="https://*.example.org")
    AllowedOrigin.objects.create(origin="https://reader.example.com", policy="readers", trust_for_csrf=True)

    _, out = run("list")

    assert out.splitlines()[-4:] == [
        "  enabled   https://*.example.org",
        f"  enabled   {PARTNER}  trusted for CSRF by TRUST_FOR_CSRF",
        '  enabled   https://reader.example.com  [policy "readers"]  ticked for CSRF but not trusted: its policy '
        "sends no credentials, so it trusts nobody for CSRF",
        "  disabled  https://ticked.example.net  trusted for CSRF by TRUST_FOR_CSRF",
    ]


def test_list_names_a_ticked_row_trusted_by_its_box() -> None:
    AllowedOrigin.objects.create(origin=PARTNER, trust_for_csrf=True)

    _, out = run("list")

    assert out.splitlines()[-1] == f"  enabled   {PARTNER}  trusted for CSRF"


def test_add_says_trust_for_csrf_true_trusts_the_new_row(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com"], "TRUST_FOR_CSRF": True}

    _, added = run("add", PARTNER)

    assert added == f"Added {PARTNER} (trusted for CSRF by TRUST_FOR_CSRF).\n"


# -- import / export ---------------------------------------------------------------


def test_import_text_adds_rows_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_text("# partners\nhttps://a.example.net\n\nHTTPS://B.example.net:443\n", encoding="utf-8")

    _, first = run("import", str(path))
    _, second = run("import", str(path))

    assert sorted(AllowedOrigin.objects.values_list("origin", flat=True)) == [
        "https://a.example.net",
        "https://b.example.net",
    ]
    assert "added 2, updated 0, unchanged 0." in first
    assert "  added     https://b.example.net" in first
    assert second.strip() == "added 0, updated 0, unchanged 2."


def test_import_text_reenables_disabled_row(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, enabled=False)
    path = tmp_path / "origins.txt"
    path.write_text(PARTNER + "\n", encoding="utf-8")

    _, out = run("import", str(path))

    assert AllowedOrigin.objects.get().enabled
    assert f"  updated   {PARTNER} (enabled)" in out


def test_import_invalid_lines_refused_with_line_numbers_nothing_applied(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_text(
        "https://good.example.net\nhttps://*.com\nhttps://good.example.net/\nftp://x.example\n", encoding="utf-8"
    )

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    message = str(info.value)
    assert "3 invalid entries; nothing was imported." in message
    assert "line 2: 'https://*.com' is not an allowed origin" in message
    assert "line 3: https://good.example.net is already listed at line 1." in message
    assert "line 4: 'ftp://x.example'" in message
    assert not AllowedOrigin.objects.exists()


def test_import_failure_midway_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "origins.txt"
    path.write_text("https://a.example.net\nhttps://b.example.net\n", encoding="utf-8")
    real_save = AllowedOrigin.save

    def save(self: AllowedOrigin, *args: object, **kwargs: object) -> None:
        if self.origin == "https://b.example.net":
            raise RuntimeError("disk full")
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(AllowedOrigin, "save", save)

    with pytest.raises(RuntimeError):
        run("import", str(path))

    assert not AllowedOrigin.objects.exists()


def test_import_json_sets_enabled_and_note(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, note="old")
    path = tmp_path / "origins.json"
    path.write_text(
        json.dumps([{"origin": PARTNER, "enabled": False, "note": "paused"}, "https://c.example.net"]),
        encoding="utf-8",
    )

    _, out = run("import", str(path))

    row = AllowedOrigin.objects.get(origin=PARTNER)
    assert (row.enabled, row.note) == (False, "paused")
    assert AllowedOrigin.objects.filter(origin="https://c.example.net", enabled=True).exists()
    assert "added 1, updated 1, unchanged 0." in out


def test_import_json_bad_entries_reported_by_number(tmp_path: Path) -> None:
    path = tmp_path / "origins.json"
    path.write_text(json.dumps(["https://ok.example.net", {"origin": 5}, {"origin": "https://x.example", "x": 1}]))

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert 'entry 2: expected an origin string or {"origin": "..."' in str(info.value)
    assert "entry 3: expected" in str(info.value)
    assert not AllowedOrigin.objects.exists()


@pytest.mark.parametrize(
    ("content", "fmt", "expected"),
    [
        (b"\xff\xfe\x00garbage", "text", "is not UTF-8 text (byte 0)"),
        (b"{not json", "json", "is not valid JSON (line 1)"),
        (b'{"origin": "https://a.example.net"}', "json", "expected a JSON list"),
        (b"[" * 100_000 + b"]" * 100_000, "json", "is not valid JSON"),
    ],
)
def test_import_unreadable_file_refused_clearly(tmp_path: Path, content: bytes, fmt: str, expected: str) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)

    with pytest.raises(CommandError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        run("import", str(path), "--format", fmt)


def test_import_missing_file_refused() -> None:
    with pytest.raises(CommandError, match=r"cannot read \"/nonexistent/origins\.txt\""):
        run("import", "/nonexistent/origins.txt")


def test_import_too_big_file_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("credcors.rows.import_format.MAX_IMPORT_BYTES", 10)
    path = tmp_path / "big.txt"
    path.write_text("https://a.example.net\n")

    with pytest.raises(CommandError, match=r"big\.txt\" is larger than 10 bytes, the most an import reads"):
        run("import", str(path))


def test_import_hostile_line_reported_escaped(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_bytes(b"https://a.example\x1b[31m\r\nhttps://ok.example.net\x00\n")

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    message = str(info.value)
    _assert_terminal_safe(message.replace("\n", ""))
    assert "line 1:" in message
    assert "line 2:" in message


def test_import_dry_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_text("https://a.example.net\n")

    _, out = run("import", str(path), "--dry-run")

    assert "Dry run, nothing saved: would have added 1" in out
    assert not AllowedOrigin.objects.exists()


def test_export_text_lists_enabled_rows_and_round_trips(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin="https://old.example.net", enabled=False)

    _, out = run("export")

    assert out.splitlines()[1:] == [PARTNER]
    path = tmp_path / "export.txt"
    path.write_text(out)
    _, again = run("import", str(path))
    assert again.strip() == "added 0, updated 0, unchanged 1."


def test_export_json_round_trips_all_rows(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, note="n")
    AllowedOrigin.objects.create(origin="https://old.example.net", enabled=False)

    _, out = run("export", "--format", "json")

    data = json.loads(out)
    assert {
        "origin": "https://old.example.net",
        "enabled": False,
        "note": "",
        "policy": "default",
        "trust_for_csrf": False,
        "expires_at": None,
        "hosts": [],
    } in data
    path = tmp_path / "export.json"
    path.write_text(out)
    _, again = run("import", str(path))
    assert again.strip() == "added 0, updated 0, unchanged 2."


def test_command_without_table_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    def boom(*args: object, **kwargs: object) -> None:
        raise OperationalError("no such table: credcors_allowedorigin")

    monkeypatch.setattr(AllowedOrigin.objects, "order_by", boom)

    with pytest.raises(CommandError, match=r"has 'manage.py migrate' been run\?"):
        run("export")


def test_add_existing_row_with_new_note_updates_note() -> None:
    AllowedOrigin.objects.create(origin=PARTNER, note="old")

    _, out = run("add", PARTNER, "--note", "new")

    assert AllowedOrigin.objects.get().note == "new"
    assert "already listed: note updated" in out


def test_import_many_invalid_lines_summarized(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_text("".join(f"ftp://h{i}.example\n" for i in range(25)))

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    message = str(info.value)
    assert "25 invalid entries; nothing was imported." in message
    assert "line 20:" in message
    assert "line 21:" not in message
    assert message.endswith("... and 5 more.")


def test_convert_settings_with_cors_headers_settings_prints_equivalent_dict(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://App.example.com:443", "null"]
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://([\w-]+\.)+example\.org$"]
    settings.CORS_ALLOW_CREDENTIALS = True
    out = StringIO()
    call_command("credcors", "convert-settings", stdout=out)
    text = out.getvalue()
    namespace: dict[str, Any] = {}
    exec(compile(text, "<convert-settings>", "exec"), namespace)
    assert namespace["CREDCORS"]["ALLOWED_ORIGINS"] == ["https://app.example.com", "https://*.example.org"]
    assert "[refused] CORS_ALLOWED_ORIGINS = 'null'" in text


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("CORS_ALLOWED_ORIGIN_REGEXES", r"^https://\w+\.amazonaws\.com$", "exactly one label before 'amazonaws.com'"),
        ("CORS_ALLOWED_ORIGIN_REGEXES", r"^https://(.*\.)?amazonaws\.com$", "hosts under 's3.amazonaws.com'"),
        ("CORS_ALLOWED_ORIGINS", "https://*.amazonaws.com", "hosts under 's3.amazonaws.com'"),
    ],
)
def test_convert_settings_never_prints_a_pattern_over_private_suffixes(
    settings: Any, setting: str, value: str, reason: str
) -> None:
    setattr(settings, setting, [value])
    out = StringIO()

    call_command("credcors", "convert-settings", stdout=out)

    text = out.getvalue()
    namespace: dict[str, Any] = {}
    exec(compile(text, "<convert-settings>", "exec"), namespace)
    assert "https://*.amazonaws.com" not in namespace["CREDCORS"]["ALLOWED_ORIGINS"]
    assert f"# - [refused] {setting} = {value!r}" in text
    assert reason in text


def test_convert_settings_without_cors_settings_keeps_credentials_off(settings: Any) -> None:
    out = StringIO()
    call_command("credcors", "convert-settings", stdout=out)
    namespace: dict[str, Any] = {}
    exec(compile(out.getvalue(), "<convert-settings>", "exec"), namespace)
    assert namespace["CREDCORS"]["ALLOW_CREDENTIALS"] is False


# -- add --by: the user it creates ------------------------------------------------------


def _parser() -> Any:
    from credcors.management.commands.credcors import Command

    return Command().create_parser("manage.py", "credcors")


def _subparsers(parser: Any) -> dict[str, Any]:
    [action] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(action.choices)


def _run_capturing_stderr(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("credcors", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_add_by_a_name_without_a_user_says_on_stderr_that_it_created_one() -> None:
    out, err = _run_capturing_stderr("add", PARTNER, "--by", "ci-bot")

    assert err == (
        'Created the Django user "ci-bot" to record this change under in the admin\'s history: '
        "inactive, it cannot log in; later changes --by the same name reuse it.\n"
    )
    assert out == f"Added {PARTNER}.\n"


def test_add_by_the_same_name_again_says_nothing_about_users() -> None:
    _run_capturing_stderr("add", PARTNER, "--by", "ci-bot")

    out, err = _run_capturing_stderr("disable", PARTNER, "--by", "ci-bot")

    assert err == ""
    assert out == f"Disabled {PARTNER}.\n"


def test_add_without_by_says_it_created_the_operating_system_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "deploy")

    _, err = _run_capturing_stderr("add", PARTNER)

    assert err.startswith('Created the Django user "deploy" ')


def test_by_help_says_a_user_may_be_created() -> None:
    text = " ".join(_subparsers(_parser())["add"].format_help().split())

    assert "gets one, created once, inactive and unable to log in; the command says so on stderr." in text


# -- the command line itself: help, the subcommand list, the system-check banner ---------


def test_help_ends_with_three_examples_and_the_manual() -> None:
    text = _parser().format_help()

    epilog = text.split("\nexamples:\n", 1)[1]
    examples = [line.strip() for line in epilog.splitlines() if line.startswith("  manage.py credcors ")]
    assert len(examples) == 3
    assert "docs/admin.md" in epilog
    assert "docs/troubleshooting.md" in epilog


def test_help_examples_run_as_written() -> None:
    epilog = _parser().format_help().split("\nexamples:\n", 1)[1]
    examples = [line.strip() for line in epilog.splitlines() if line.startswith("  manage.py credcors ")]

    for example in examples:
        status, out = run(*shlex.split(example)[2:])
        assert status == 0, (example, out)
    assert AllowedOrigin.objects.filter(note="PR 42", expires_at__isnull=False).exists()


def test_every_subcommand_and_argument_has_help() -> None:
    missing = [
        f"{name} {action.dest}"
        for name, parser in _subparsers(_parser()).items()
        for action in parser._actions
        if not action.help
    ]

    assert missing == []


def test_subcommand_help_describes_the_subcommand() -> None:
    text = _subparsers(_parser())["add"].format_help()

    assert "Add (or re-enable) an allowed origin row." in text
    assert re.search(r"^  ORIGIN\s+The origin to allow", text, re.MULTILINE)


def test_no_subcommand_lists_every_subcommand() -> None:
    with pytest.raises(CommandError) as info:
        run()

    message = str(info.value)
    assert message.startswith("Error: name a subcommand:\n")
    for name in _subparsers(_parser()):
        assert f"\n  {name} " in message
    assert "'manage.py credcors SUBCOMMAND --help' shows a subcommand's arguments." in message


def test_no_subcommand_on_the_command_line_exits_two_with_the_list_and_no_check_banner() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "credcors"], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 2
    assert "credcors: error: name a subcommand:\n  explain " in result.stderr
    assert "  install-triggers " in result.stderr
    assert "System check" not in result.stderr


@pytest.fixture
def warning_in_settings(settings: Any) -> None:
    """A configuration that ``manage.py check`` warns about (credcors.W002, a duplicate)."""
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["https://app.example.com", "https://App.example.com:443"]}


def _run_with_checks(*args: str) -> tuple[int, str, str]:
    """Run the command as ``manage.py`` does, system checks included; return (status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("credcors", *args, stdout=out, stderr=err, skip_checks=False)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("warning_in_settings")
@pytest.mark.parametrize(
    "args", [("explain", "https://app.example.com"), ("list",), ("export",), ("export", "--format", "json")]
)
def test_reporting_subcommand_prints_no_system_check_banner_even_with_a_warning(args: tuple[str, ...]) -> None:
    status, out, err = _run_with_checks(*args)

    assert status == 0
    assert err == ""
    assert "System check" not in out


@pytest.mark.usefixtures("warning_in_settings")
def test_explain_json_skips_the_banner_and_keeps_its_keys() -> None:
    status, out, err = _run_with_checks("explain", "https://app.example.com", "--json")

    assert status == 0
    assert "System check" not in err
    assert {"origin", "allowed"} <= json.loads(out).keys()


@pytest.mark.usefixtures("warning_in_settings")
def test_changing_subcommand_still_runs_the_system_checks() -> None:
    status, _, err = _run_with_checks("add", PARTNER, "--by", "admin-bot")

    assert status == 0
    assert "System check identified some issues:" in err
    assert "credcors.W002" in err


@pytest.mark.usefixtures("warning_in_settings")
def test_list_says_when_the_settings_have_problems() -> None:
    _, out = run("list")

    assert (
        "  CREDCORS has 1 problem (credcors.W002): 'manage.py check' says what to fix; entries it refuses are ignored."
    ) in out


def test_list_without_settings_problems_says_none() -> None:
    _, out = run("list")

    assert "problem" not in out


def test_explain_says_when_the_settings_have_problems(settings: Any) -> None:
    # The entry credcors refuses (no scheme) is ignored: without the check
    # banner, explain says there is something to read in 'manage.py check'.
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["partner.example.net", "https://*.com"]}

    status, out, err = _run_with_checks("explain", PARTNER)

    assert status == 1
    assert err == ""
    assert out.endswith(
        "Settings: CREDCORS has 2 problems (credcors.E004): 'manage.py check' says what to fix; "
        "entries it refuses are ignored.\n"
    )


def test_explain_json_says_settings_problems_on_stderr_only(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": ["partner.example.net"]}

    status, out, err = _run_with_checks("explain", PARTNER, "--json")

    assert status == 1
    assert json.loads(out)["origin"] == PARTNER
    assert err == (
        "CREDCORS has 1 problem (credcors.E004): 'manage.py check' says what to fix; entries it refuses are ignored.\n"
    )


def test_explain_without_settings_problems_says_none() -> None:
    _, out = run("explain", PARTNER)

    assert "Settings:" not in out


def test_import_text_export_without_policy_follows_its_header(tmp_path: Path, settings: Any) -> None:
    settings.CREDCORS = {"POLICIES": {"partners": {"USE_DATABASE": True}}}
    AllowedOrigin.objects.create(origin=PARTNER, policy="partners")
    _, exported = run("export", "--policy", "partners")
    AllowedOrigin.objects.all().delete()
    path = tmp_path / "partners.txt"
    path.write_text(exported)

    with pytest.raises(CommandError) as info:
        run("import", str(path), "--policy", "default")
    _, out = run("import", str(path))

    assert str(info.value) == (
        'the text\'s header says its origins belong to the policy "partners", but --policy is "default"; '
        'choose "partners", or leave --policy out to follow the header.'
    )
    assert out.strip().endswith("added 1, updated 0, unchanged 0.")
    assert AllowedOrigin.objects.get().policy == "partners"


# The comment grammar as regexes: the reference for split_comment (the import used one until it
# took seconds, quadratic in a run of spaces, on a long line; issue 21 finding 7).  A line's
# comment holds "# expires WHEN" and "# hosts HOST ..." comments in any order (issue 24).
REFERENCE_COMMENT = re.compile(r"^(.*?)\s+#(.*)$")
REFERENCE_EXPIRES = re.compile(r"(?:^|#)\s*expires\s+([^\s#]+)")


@given(st.text(alphabet=st.sampled_from(" \t\x0b\xa0\u2003#abexpirs:-1x"), max_size=40))
def test_split_comment_matches_the_reference_regex(line: str) -> None:
    match = REFERENCE_COMMENT.match(line)
    expires = None if match is None else REFERENCE_EXPIRES.search(match.group(2))

    assert split_comment(line) == (
        (line, None) if match is None else (match.group(1), None if expires is None else expires.group(1))
    )


def test_import_of_a_line_with_a_long_run_of_spaces_parses_in_linear_time(tmp_path: Path) -> None:
    # 200,000 spaces that no "#" follows: the reference regex takes minutes here.
    spaces = " " * 200_000
    text = f"https://a.example.net{spaces}x  # expires 2030-01-01T00:00:00Z\n{spaces}https://b.example.net\n"
    path = tmp_path / "spaces.txt"
    path.write_text(text + "https://ok.example.net  # expires never\n")

    entries = parse_entries(text, "text", "x")
    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert [(entry.origin, entry.expires) for entry in entries] == [
        (f"https://a.example.net{spaces}x", "2030-01-01T00:00:00Z"),
        (f"{spaces}https://b.example.net", None),
    ]
    message = str(info.value)
    assert "2 invalid entries; nothing was imported." in message
    assert "\nline 1: 'https://a.example.net   " in message
    assert "\nline 2: '    " in message
    assert len(message) < 3000
    assert not AllowedOrigin.objects.exists()


def test_add_validates_for_the_policy_the_row_will_have(settings: Any) -> None:
    settings.CREDCORS = {
        "ALLOW_CREDENTIALS": False,
        "POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
    }
    run("add", "http://reader.example.net")

    with pytest.raises(CommandError, match="http://"):
        run("add", "http://p.example.net", "--policy", "partners")
    with pytest.raises(CommandError, match="http://"):
        run("add", "http://reader.example.net", "--policy", "partners")

    assert list(AllowedOrigin.objects.values_list("origin", "policy")) == [("http://reader.example.net", "default")]


def test_import_refuses_an_update_its_rows_own_policy_would_refuse(settings: Any, tmp_path: Path) -> None:
    settings.CREDCORS = {
        "ALLOW_CREDENTIALS": False,
        "POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
    }
    AllowedOrigin.objects.create(origin="http://p.example.net", enabled=False)
    # Moved by another service's SQL, around the model's validation.
    AllowedOrigin.objects.filter(origin="http://p.example.net").update(policy="partners")
    path = tmp_path / "origins.txt"
    path.write_text("http://p.example.net\n", encoding="utf-8")

    with pytest.raises(CommandError, match=r"http://.*nothing was imported"):
        run("import", str(path))

    assert list(AllowedOrigin.objects.values_list("enabled", flat=True)) == [False]


def test_add_trust_for_csrf_sets_and_takes_back_the_rows_trust() -> None:
    _, added = run("add", PARTNER, "--trust-for-csrf")
    assert added == f"Added {PARTNER} (trusted for CSRF).\n"
    assert AllowedOrigin.objects.get().trust_for_csrf is True

    _, again = run("add", PARTNER, "--no-trust-for-csrf")
    assert again == f"{PARTNER} was already listed: no longer trusted for CSRF.\n"
    assert AllowedOrigin.objects.get().trust_for_csrf is False

    _, unchanged = run("add", PARTNER)
    assert unchanged == f"{PARTNER} is already listed and enabled; nothing changed.\n"
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(change_message__contains="trusted for CSRF").count() == 2


def test_add_trust_for_csrf_refuses_a_pattern_like_the_admin() -> None:
    with pytest.raises(CommandError, match=r"Only an exact origin can be trusted for CSRF, never a \*\. pattern\."):
        run("add", "https://*.example.net", "--trust-for-csrf")
    AllowedOrigin.objects.create(origin="https://*.example.org")
    with pytest.raises(CommandError, match="Only an exact origin can be trusted for CSRF"):
        run("add", "https://*.example.org", "--trust-for-csrf")

    assert not AllowedOrigin.objects.filter(trust_for_csrf=True).exists()
