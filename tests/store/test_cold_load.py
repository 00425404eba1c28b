"""A cold load: the one guarded read of the AllowedOrigin table, and the collector paused while its rows compile."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from credcors.core.compile import compile_columns
from credcors.models import AllowedOrigin
from credcors.store.current import get_store
from credcors.store.loader import _paused_collection
from credcors.store.reads import read_rows

SOON = datetime(2030, 5, 17, 8, 30, 15, 250000, tzinfo=timezone.utc)


def _fill() -> None:
    # Each combination of the converted columns, and a disabled row.
    for number, (trusted, expires, enabled) in enumerate(
        [(True, None, True), (False, SOON, True), (True, SOON - timedelta(days=400), True), (False, None, False)]
    ):
        AllowedOrigin.objects.create(
            origin=f"https://app{number}.example.com", trust_for_csrf=trusted, expires_at=expires, enabled=enabled
        )


@pytest.mark.django_db
def test_read_rows_returns_python_booleans_and_aware_datetimes() -> None:
    # SQLite stores booleans as integers and datetimes as text, MySQL
    # booleans as integers and datetimes naive: the snapshot compares the
    # booleans by truth and the expiries by timestamp, on every backend.
    _fill()

    rows = read_rows(fields=("origin", "trust_for_csrf", "expires_at"))

    assert [origin for origin, _, _ in rows] == [f"https://app{number}.example.com" for number in range(3)]
    assert [type(trusted) for _, trusted, _ in rows] == [bool, bool, bool]
    assert [trusted for _, trusted, _ in rows] == [True, False, True]
    assert [expires for _, _, expires in rows] == [None, SOON, SOON - timedelta(days=400)]
    assert rows[1][2].utcoffset() == timedelta(0)


@pytest.mark.django_db
def test_read_rows_of_given_origins_includes_disabled_rows() -> None:
    _fill()

    found = read_rows(origins=["https://app3.example.com", "https://app1.example.com", "https://unknown.example"])

    assert sorted(origin for origin, _ in found) == ["https://app1.example.com", "https://app3.example.com"]


@pytest.mark.django_db
def test_read_rows_of_no_origins_is_empty() -> None:
    # "IN ()" is no SQL: the ORM sends no SELECT at all.
    _fill()

    assert read_rows(origins=[]) == []


def test_paused_collection_pauses_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with _paused_collection():
        assert not gc.isenabled()
    assert gc.isenabled()

    with pytest.raises(RuntimeError), _paused_collection():
        raise RuntimeError("a failed build")
    assert gc.isenabled()


def test_paused_collection_leaves_a_collector_paused_elsewhere_paused() -> None:
    gc.disable()
    try:
        with _paused_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.django_db
def test_rows_compile_with_the_collector_paused_and_it_runs_again_after(monkeypatch: pytest.MonkeyPatch) -> None:
    _fill()
    paused: list[bool] = []

    def watched(*args: Any) -> Any:
        paused.append(not gc.isenabled())
        return compile_columns(*args)

    monkeypatch.setattr("credcors.store.loader.compile_columns", watched)

    assert get_store().get().default.index.lookup("https://app0.example.com") is not None
    assert paused == [True]
    assert gc.isenabled()
