"""The packed rows of one policy (:class:`credcors.core.rowmap.RowMap`) against a plain dict.

The reference is deliberately simple: a dict from origin to (row id, CSRF
trust, expiry) that a change edits the way the docstrings say (rows removed
by id, then rows added unless a live row holds their origin already).  Every
map a sequence of changes makes, old ones included, must read like its dict.
"""

from __future__ import annotations

from typing import NamedTuple
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credcors.core import rowmap
from credcors.core.decision import Headers
from credcors.core.grants import Grant, grant_of
from credcors.core.origins import ANY_PORT, OriginError, parse_rule
from credcors.core.rowmap import Entry, RowMap, rule_of

HEADERS = Headers.build(allow_methods=["GET"], allow_headers=["Content-Type"])

# Few enough that removals, re-additions and duplicates are common; IPv6
# literals and explicit ports are where rule_of has to split with care.
ORIGINS = (
    "https://a.example.com",
    "https://b.example.com",
    "https://a.example.com:8443",
    "http://[::1]:8000",
    "https://[2001:db8::1]",
    "https://[2001:db8::1]:444",
    "http://127.0.0.1:8000",
    "https://xn--bcher-kva.example",
    "https://c.example.org",
    "https://d.example.org:1",
)
APP_ORIGIN = "https://app.example.com"  # never packed: what get() answers by default
EXPIRIES = (None, None, 10.0, 20.0, 30.0)
NOWS = (0.0, 10.0, 15.0, 20.0, 30.0, 99.0)

Model = dict[str, tuple[int, bool, "float | None"]]


class Change(NamedTuple):
    removed: list[int]
    added: list[Entry]


entry_parts = st.tuples(st.sampled_from(ORIGINS), st.integers(1, 24), st.booleans(), st.sampled_from(EXPIRIES))


def _packed(entries: list[Entry]) -> tuple[list[Entry], Model]:
    """Rows as the loader reads them (by id, one row per id) and the dict they pack into: the first one wins."""
    by_id = {entry[1]: entry for entry in entries}
    rows = [by_id[pk] for pk in sorted(by_id)]
    model: Model = {}
    for origin, pk, csrf, expires in rows:
        model.setdefault(origin, (pk, csrf, expires))
    return rows, model


def _apply(model: Model, change: Change) -> tuple[Change, Model]:
    """``change`` as a store can make it (an added row's id is live nowhere else), and the dict after it."""
    after = {origin: live for origin, live in model.items() if live[0] not in change.removed}
    live_ids = {live[0] for live in after.values()}
    added: list[Entry] = []
    for origin, pk, csrf, expires in change.added:
        if pk in live_ids:
            continue  # The database has one row per id: it was removed first, or it is new.
        live_ids.add(pk)
        added.append((origin, pk, csrf, expires))
        after.setdefault(origin, (pk, csrf, expires))
    return Change(change.removed, added), after


def _assert_reads_like(rows: RowMap, model: Model) -> None:
    assert len(rows) == len(model)
    assert sorted(rows) == sorted(model)
    assert sorted(rows.entries(), key=lambda entry: entry[1]) == sorted(
        ((origin, *live) for origin, live in model.items()), key=lambda entry: entry[1]
    )
    for origin in ORIGINS:
        live = model.get(origin)
        if live is None:
            assert origin not in rows
            assert rows.get(origin) is None
            default = Grant(parse_rule(APP_ORIGIN), APP_ORIGIN, None, HEADERS)
            assert rows.get(origin, default) is default
            with pytest.raises(KeyError):
                rows[origin]
        else:
            pk, csrf, expires = live
            grant = Grant(parse_rule(origin, allow_insecure=True), origin, pk, HEADERS, csrf, None, None, expires)
            assert origin in rows
            assert rows.get(origin) == grant
            assert rows[origin] == grant
    for pk in range(0, 26):
        held = [origin for origin, live in model.items() if live[0] == pk]
        assert rows.origin_of(pk) == (held[0] if held else None)
    expiries = [live[2] for live in model.values() if live[2] is not None]
    assert rows.next_expiry == min(expiries, default=None)
    for now in NOWS:
        assert sorted(rows.expired(now)) == sorted(pk for pk, _, at in model.values() if at is not None and at <= now)


@given(
    st.lists(entry_parts, max_size=12),
    st.lists(
        st.builds(Change, st.lists(st.integers(0, 25), max_size=4), st.lists(entry_parts, max_size=4)), max_size=8
    ),
    st.sampled_from([4096, 0, 1, 3]),
)
def test_any_sequence_of_changes_reads_like_a_dict(
    initial: list[Entry], changes: list[Change], overlay_min: int
) -> None:
    rows, model = _packed(initial)
    with mock.patch.object(rowmap, "OVERLAY_MIN", overlay_min):
        maps = [(RowMap(HEADERS, rows), dict(model))]
        for change in changes:
            change, model = _apply(model, change)
            maps.append((maps[-1][0].changed(change.removed, change.added), model))
    # Checked at the end: a change leaves the map it started from as it was.
    for each, expected in maps:
        _assert_reads_like(each, expected)


def test_empty_map_holds_nothing() -> None:
    empty = RowMap(HEADERS)

    _assert_reads_like(empty, {})
    assert not empty
    assert list(empty.changed([1, 2], [])) == []
    assert 42 not in empty  # type: ignore[comparison-overlap]


def test_duplicate_origin_packs_the_first_row_and_leaves_the_other_dead() -> None:
    rows = RowMap(HEADERS, [("https://a.example.com", 1, True, None), ("https://a.example.com", 2, False, 5.0)])

    assert len(rows) == 1
    assert rows["https://a.example.com"].source == 1
    assert rows.origin_of(2) is None
    assert rows.next_expiry is None  # the dead row's expiry is not anyone's
    # Removing the dead one changes nothing; removing the live one leaves none.
    assert dict(rows.changed([2]).items()) == dict(rows.items())
    assert len(rows.changed([1])) == 0


def test_a_duplicate_among_many_rows_leaves_every_other_origin_found() -> None:
    # Many rows, so that probe sequences collide with other origins' on the
    # packing path that compares origins (taken when some origin repeats).
    entries = [(f"https://app{n}.example.com", n, False, None) for n in range(1, 500)]
    rows = RowMap(HEADERS, [*entries, ("https://app7.example.com", 900, True, None)])

    assert len(rows) == 499
    assert rows["https://app7.example.com"].source == 7
    assert all(rows[origin].source == n for origin, n, _, _ in entries)


def test_columns_pack_the_rows_their_entries_would() -> None:
    entries = [(f"https://app{n}.example.com", n, n % 3 == 0, None) for n in range(1, 300)]
    packed = RowMap.from_columns(
        HEADERS, [e[0] for e in entries], [e[1] for e in entries], bytes(e[2] for e in entries)
    )

    assert dict(packed.items()) == dict(RowMap(HEADERS, entries).items())


def test_origin_removed_and_added_again_under_another_id_is_the_new_row() -> None:
    rows = RowMap(HEADERS, [("https://a.example.com", 1, False, None)])

    moved = rows.changed([1], [("https://a.example.com", 7, True, 3.0)])

    assert moved["https://a.example.com"] == Grant(
        parse_rule("https://a.example.com"), "https://a.example.com", 7, HEADERS, True, None, None, 3.0
    )
    assert moved.origin_of(1) is None
    assert moved.origin_of(7) == "https://a.example.com"
    assert moved.expired(3.0) == [7]
    assert rows["https://a.example.com"].source == 1  # the old map is untouched
    # The old id leaving again removes nothing.
    assert len(moved.changed([1])) == 1


def test_added_origin_already_held_is_left_out() -> None:
    rows = RowMap(HEADERS, [("https://a.example.com", 1, False, None)])

    same = rows.changed((), [("https://a.example.com", 2, True, None), ("https://b.example.com", 3, False, None)])

    assert same["https://a.example.com"].source == 1
    assert same.origin_of(2) is None
    assert len(same) == 2


def test_overlay_past_its_bound_is_packed_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowmap, "OVERLAY_MIN", 2)
    rows = RowMap(HEADERS, [(f"https://n{n}.example.com", n, False, None) for n in range(1, 9)])

    small = rows.changed([1, 2])  # an overlay of 2: shared arrays
    packed = small.changed([3])  # 3 > max(2, 8 // 8): packed anew, without an overlay

    assert small._blob is rows._blob
    assert packed._blob is not rows._blob
    assert packed._overlay == {}
    assert sorted(packed) == [f"https://n{n}.example.com" for n in range(4, 9)]
    assert packed.origin_of(4) == "https://n4.example.com"
    assert packed.origin_of(3) is None


def test_many_origins_probe_past_collisions() -> None:
    # Enough rows that the open-addressing table has runs of taken slots.
    entries = [(f"https://n{n}.example.com", n, n % 2 == 0, float(n) if n % 3 == 0 else None) for n in range(500)]

    rows = RowMap(HEADERS, entries)

    assert len(rows) == 500
    assert all(rows[origin].source == pk for origin, pk, _, _ in entries)
    assert "https://n500.example.com" not in rows
    assert rows.next_expiry == 0.0
    assert sorted(rows.expired(9.0)) == [0, 3, 6, 9]


# --- rule_of -------------------------------------------------------------------------------

_LABELS = ("a", "b-c", "xn--bcher-kva", "example", "com", "org", "42", "x1")


@st.composite
def _origin_texts(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    kind = draw(st.sampled_from(["name", "ipv4", "ipv6"]))
    if kind == "name":
        host = ".".join(draw(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=4)))
    elif kind == "ipv4":
        host = str(draw(st.ip_addresses(v=4)))
    else:
        address = draw(st.ip_addresses(v=6))
        # Written long or short: the validator canonicalizes both.
        host = f"[{address.exploded if draw(st.booleans()) else address}]"
    port = draw(st.one_of(st.none(), st.integers(1, 65535), st.sampled_from([80, 443, 8000])))
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


@given(_origin_texts())
def test_rule_of_a_canonical_exact_origin_is_the_validators_rule(text: str) -> None:
    try:
        rule = parse_rule(text, allow_insecure=True)
    except OriginError:
        return  # not an origin the validator accepts: nothing is ever packed for it
    assert not rule.wildcard
    assert rule.port != ANY_PORT
    origin = rule.serialize()

    assert rule_of(origin) == rule
    assert rule_of(origin) == parse_rule(origin, allow_insecure=True)


@pytest.mark.parametrize(
    ("origin", "host", "port"),
    [
        ("https://[2001:db8::1]", "[2001:db8::1]", None),
        ("https://[2001:db8::1]:8443", "[2001:db8::1]", 8443),
        ("http://[::1]:8000", "[::1]", 8000),
        ("https://app.example.com:1", "app.example.com", 1),
        ("https://app.example.com", "app.example.com", None),
        ("http://127.0.0.1:65535", "127.0.0.1", 65535),
    ],
)
def test_rule_of_splits_ipv6_hosts_and_ports(origin: str, host: str, port: int | None) -> None:
    rule = rule_of(origin)

    assert (rule.host, rule.port) == (host, port)
    assert rule == parse_rule(origin, allow_insecure=True)


def test_a_row_becomes_the_same_grant_packed_changed_or_compiled() -> None:
    # One function turns a row into a grant: the packed lookup, the overlay of a change, and the compiler agree.
    origin = "https://partner.example.net"
    packed = RowMap.from_columns(HEADERS, [origin], [7], b"\x01")
    changed = RowMap(HEADERS).changed((), [(origin, 7, True, 99.0)])
    rule = parse_rule(origin)

    assert packed.get(origin) == grant_of(rule, origin, 7, HEADERS, True, None)
    assert changed.get(origin) == grant_of(rule, origin, 7, HEADERS, True, 99.0)
    assert grant_of(rule, origin, 7, HEADERS, True, None) == Grant(rule, origin, 7, HEADERS, True, None, None, None)
