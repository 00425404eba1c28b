"""Lifetimes on the command line: ``add --expires``, ``prune``, and expiry in ``list``, ``export`` and ``import``."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from credcors.models import AllowedOrigin
from credcors.rows.lifetime import LifetimeError, describe, parse_duration, parse_expiry

PREVIEW = "https://pr-123.preview.example.com"
PARTNER = "https://partner.example.net"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=dt_timezone.utc)

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("credcors", *args, "--by", "ci", stdout=out) if args[0] in _CHANGING else call_command(
        "credcors", *args, stdout=out
    )
    return out.getvalue()


_CHANGING = {"add", "remove", "enable", "disable", "import", "prune"}


# -- The grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("12h", 43200), ("3d", 259200), ("2w", 1209600), (" 7D ", 604800)]
)
def test_duration_units(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "1.5h", "-3d", "7y", "99999w", "3d12h"])
def test_duration_refused_with_the_grammar(text: str) -> None:
    with pytest.raises(LifetimeError, match=r"write a number and m, h, d or w, e\.g\. 30m, 12h, 3d, 2w"):
        parse_duration(text)


def test_zero_duration_refused_unless_allowed() -> None:
    with pytest.raises(LifetimeError, match="no time at all"):
        parse_duration("0m")
    assert parse_duration("0m", allow_zero=True) == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", NOW + timedelta(days=3)),
        ("2026-12-31T18:00:00Z", datetime(2026, 12, 31, 18, tzinfo=dt_timezone.utc)),
        ("2026-12-31T18:00:00+01:00", datetime(2026, 12, 31, 17, tzinfo=dt_timezone.utc)),
        ("2026-12-31 18:00", datetime(2026, 12, 31, 18, tzinfo=PARIS)),  # in TIME_ZONE
        ("2026-12-31", datetime(2026, 12, 31, tzinfo=PARIS)),
        ("never", None),
        ("NEVER", None),
    ],
)
def test_expiry_accepts_durations_iso_date_times_and_never(settings: Any, text: str, expected: datetime | None) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    assert parse_expiry(text, NOW) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2026-02-30", "2026-13-01T00:00", "31/12/2026", "3 d"])
def test_expiry_refused_with_the_words_it_takes(text: str) -> None:
    with pytest.raises(LifetimeError, match=r"write a duration such as 30m, 12h, 3d or 2w, or an ISO date-time"):
        parse_expiry(text, NOW)


def test_expiry_in_the_past_refused_unless_allowed() -> None:
    with pytest.raises(LifetimeError, match=r"'2020-01-01T00:00Z' is already past \(2020-01-01T00:00:00Z\)"):
        parse_expiry("2020-01-01T00:00Z", NOW)
    assert parse_expiry("2020-01-01T00:00Z", NOW, allow_past=True) == datetime(2020, 1, 1, tzinfo=dt_timezone.utc)


def test_expiry_without_time_zone_support_is_naive_local_time(settings: Any) -> None:
    settings.USE_TZ = False
    settings.TIME_ZONE = "Europe/Paris"

    moment = parse_expiry("2026-12-31T18:00:00Z", datetime(2026, 1, 1))

    assert moment == datetime(2026, 12, 31, 19, 0)
    assert moment is not None
    assert moment.tzinfo is None


def test_describe_writes_utc_iso_or_never() -> None:
    assert describe(datetime(2026, 12, 31, 19, tzinfo=dt_timezone(timedelta(hours=1)))) == "2026-12-31T18:00:00Z"
    assert describe(None) == "never"


# -- add --expires / --note ------------------------------------------------------------


def test_add_with_expiry_and_note_stores_both() -> None:
    before = timezone.now()

    out = run("add", PREVIEW, "--expires", "7d", "--note", "PR 123")

    row = AllowedOrigin.objects.get()
    assert row.note == "PR 123"
    assert row.expires_at is not None
    assert before + timedelta(days=7) <= row.expires_at <= timezone.now() + timedelta(days=7)
    assert out.strip() == f"Added {PREVIEW} (expires {describe(row.expires_at)})."


def test_add_with_iso_expiry() -> None:
    run("add", PREVIEW, "--expires", "2099-01-31T12:00:00Z")

    assert AllowedOrigin.objects.get().expires_at == datetime(2099, 1, 31, 12, tzinfo=dt_timezone.utc)


@pytest.mark.parametrize(
    ("value", "message"),
    [("soon", "is not a lifetime"), ("2001-01-01", "is already past"), ("0d", "no time at all")],
)
def test_add_with_bad_expiry_refused_and_nothing_stored(value: str, message: str) -> None:
    with pytest.raises(CommandError, match=rf"--expires: .*{message}"):
        run("add", PREVIEW, "--expires", value)
    assert not AllowedOrigin.objects.exists()


def test_add_again_extends_or_clears_the_expiry_and_keeps_it_without_expires() -> None:
    run("add", PREVIEW, "--expires", "1d")

    out = run("add", PREVIEW, "--expires", "2099-01-01T00:00:00Z")
    assert out.strip() == f"{PREVIEW} was already listed: expires 2099-01-01T00:00:00Z."
    assert "nothing changed" in run("add", PREVIEW)
    assert AllowedOrigin.objects.get().expires_at == datetime(2099, 1, 1, tzinfo=dt_timezone.utc)

    assert run("add", PREVIEW, "--expires", "never").strip() == f"{PREVIEW} was already listed: expires never."
    assert AllowedOrigin.objects.get().expires_at is None


def test_add_again_on_an_expired_row_says_it_is_still_refused() -> None:
    AllowedOrigin.objects.create(origin=PREVIEW, enabled=False, expires_at=timezone.now() - timedelta(hours=1))

    out = run("add", PREVIEW)

    assert "already listed: enabled" in out
    assert "so it is still refused; pass --expires with a later time, or --expires never." in out


# -- list / export / import ----------------------------------------------------------------


def _rows_with_lifetimes() -> None:
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=datetime(2099, 1, 1, tzinfo=dt_timezone.utc))
    AllowedOrigin.objects.create(origin="https://old.example.net", expires_at=timezone.now() - timedelta(days=1))
    AllowedOrigin.objects.create(origin="https://off.example.net", enabled=False)


def test_list_shows_state_and_expiry() -> None:
    _rows_with_lifetimes()

    lines = run("list").splitlines()

    assert "  disabled  https://off.example.net" in lines
    assert any(line.startswith("  expired   https://old.example.net  expires ") for line in lines)
    assert f"  enabled   {PREVIEW}  expires 2099-01-01T00:00:00Z" in lines
    assert f"  enabled   {PARTNER}" in lines


def test_export_text_leaves_out_expired_rows_and_carries_expiries_that_import_reads(tmp_path: Path) -> None:
    _rows_with_lifetimes()

    out = run("export")

    assert out.splitlines()[1:] == [PARTNER, f"{PREVIEW}  # expires 2099-01-01T00:00:00Z"]
    AllowedOrigin.objects.all().delete()
    path = tmp_path / "origins.txt"
    path.write_text(out)
    run("import", str(path))
    assert dict(AllowedOrigin.objects.values_list("origin", "expires_at")) == {
        PARTNER: None,
        PREVIEW: datetime(2099, 1, 1, tzinfo=dt_timezone.utc),
    }


def test_export_json_round_trips_expiries(tmp_path: Path) -> None:
    _rows_with_lifetimes()
    before = dict(AllowedOrigin.objects.values_list("origin", "expires_at"))

    out = run("export", "--format", "json")

    exported = {item["origin"]: item for item in json.loads(out)}
    assert exported[PREVIEW]["expires_at"] == "2099-01-01T00:00:00Z"
    AllowedOrigin.objects.all().delete()
    path = tmp_path / "origins.json"
    path.write_text(out)
    run("import", str(path))
    after = dict(AllowedOrigin.objects.values_list("origin", "expires_at"))
    assert after.keys() == before.keys()
    assert all(
        (after[o] is None) == (before[o] is None) and abs((after[o] or NOW) - (before[o] or NOW)) < timedelta(seconds=1)
        for o in before
    )


def test_import_json_expiry_sets_clears_or_keeps(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=datetime(2099, 1, 1, tzinfo=dt_timezone.utc))
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=datetime(2099, 1, 1, tzinfo=dt_timezone.utc))
    path = tmp_path / "origins.json"
    path.write_text(
        json.dumps(
            [
                {"origin": PARTNER, "expires_at": None},
                {"origin": PREVIEW},
                {"origin": "https://new.example.net", "expires_at": "3d"},
            ]
        )
    )

    out = run("import", str(path))

    assert f"  updated   {PARTNER} (expires never)" in out
    rows = dict(AllowedOrigin.objects.values_list("origin", "expires_at"))
    assert rows[PARTNER] is None
    assert rows[PREVIEW] == datetime(2099, 1, 1, tzinfo=dt_timezone.utc)
    assert rows["https://new.example.net"] is not None


def test_import_bad_expiry_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "origins.json"
    path.write_text(json.dumps([{"origin": PARTNER, "expires_at": "someday"}, {"origin": PREVIEW, "expires_at": 3}]))

    with pytest.raises(CommandError) as info:
        run("import", str(path))

    assert "entry 1: 'someday' is not a lifetime" in str(info.value)
    assert "entry 2: expected an origin string or" in str(info.value)
    assert not AllowedOrigin.objects.exists()


def test_import_text_reads_expiry_comments_and_ignores_other_comments(tmp_path: Path) -> None:
    path = tmp_path / "origins.txt"
    path.write_text(f"{PARTNER}  # the EU partner\n{PREVIEW} # expires 2099-01-01T00:00:00Z\n")

    run("import", str(path))

    rows = dict(AllowedOrigin.objects.values_list("origin", "expires_at"))
    assert rows == {PARTNER: None, PREVIEW: datetime(2099, 1, 1, tzinfo=dt_timezone.utc)}


# -- prune -------------------------------------------------------------------------------


def _expired(origin: str, days_ago: float) -> None:
    AllowedOrigin.objects.create(origin=origin, expires_at=timezone.now() - timedelta(days=days_ago))


def test_prune_deletes_rows_expired_longer_than_seven_days_by_default() -> None:
    _expired("https://long-ago.example.net", 8)
    _expired("https://recent.example.net", 2)
    AllowedOrigin.objects.create(origin=PARTNER)
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=timezone.now() + timedelta(days=1))

    out = run("prune")

    assert "  https://long-ago.example.net  expired " in out
    assert "Pruned 1 row expired before " in out
    assert sorted(AllowedOrigin.objects.values_list("origin", flat=True)) == sorted(
        ["https://recent.example.net", PARTNER, PREVIEW]
    )


def test_prune_older_than_zero_deletes_every_expired_row() -> None:
    _expired("https://long-ago.example.net", 8)
    _expired("https://recent.example.net", 0.001)
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=timezone.now() + timedelta(days=1))

    out = run("prune", "--older-than", "0m")

    assert "Pruned 2 rows" in out
    assert list(AllowedOrigin.objects.values_list("origin", flat=True)) == [PREVIEW]


def test_prune_dry_run_deletes_nothing() -> None:
    _expired("https://long-ago.example.net", 30)

    out = run("prune", "--older-than", "2w", "--dry-run")

    assert "Dry run, nothing deleted: would have pruned 1 row expired before" in out
    assert AllowedOrigin.objects.count() == 1


def test_prune_bad_duration_refused() -> None:
    with pytest.raises(CommandError, match=r"--older-than: '7 days' is not a duration"):
        run("prune", "--older-than", "7 days")


# -- The admin ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "listed"),
    [
        ("active", {PARTNER, PREVIEW}),
        ("expired", {"https://old.example.net"}),
        ("disabled", {"https://off.example.net"}),
        (None, {PARTNER, PREVIEW, "https://old.example.net", "https://off.example.net"}),
    ],
)
def test_admin_state_filter(admin_client: Any, state: str | None, listed: set[str]) -> None:
    _rows_with_lifetimes()

    response = admin_client.get("/admin/credcors/allowedorigin/", {"state": state} if state else {})

    assert {row.origin for row in response.context["cl"].result_list} == listed


def test_admin_list_shows_when_each_row_expires(admin_client: Any, settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    _rows_with_lifetimes()

    page = admin_client.get("/admin/credcors/allowedorigin/").content.decode()

    # One "State" column, in origin order: off., old., partner., pr-123.
    states = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r'<td class="field-state">(.*?)</td>', page)]
    assert [state.split(" ")[0] for state in states] == ["Disabled", "Expired", "Active", "Active"]
    assert states[2:] == ["Active", "Active until Jan. 1, 2099, midnight"]


def test_explain_names_an_expired_row_and_not_one_that_expires_later() -> None:
    AllowedOrigin.objects.create(origin=PREVIEW, expires_at=datetime(2020, 1, 1, tzinfo=dt_timezone.utc))
    AllowedOrigin.objects.create(origin=PARTNER, expires_at=datetime(2099, 1, 1, tzinfo=dt_timezone.utc))
    out = StringIO()

    with pytest.raises(SystemExit):
        call_command("credcors", "explain", PREVIEW, stdout=out)
    call_command("credcors", "explain", PARTNER, stdout=out)

    assert "Verdict:  REFUSED (expired-row)" in out.getvalue()
    assert "but it expired at 2020-01-01T00:00:00Z." in out.getvalue()
    assert "Verdict:  ALLOWED (allowed)" in out.getvalue()
