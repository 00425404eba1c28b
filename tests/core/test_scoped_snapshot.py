"""Scoped rows (issue 24) in the compiled snapshot: the edges the property tests reach only by chance."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.core.exceptions import ValidationError

from credcors.core import snapshot as snapshot_module
from credcors.core.compile import RowColumns, apply_changes, compile_columns, compile_rows
from credcors.core.config import parse_config
from credcors.core.decide import decide
from credcors.models import canonicalize_hosts

NOW = 1_800_000_000.0
A = "https://app.customer-a.com"
HOST = "api.customer-a.com"


def test_stored_hosts_not_in_canonical_form_or_not_a_string_leave_the_row_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = parse_config({})
    rows = [
        (A, 1, "default", False, None, "b.example a.example"),  # Valid entries, unsorted: not as save() stores them.
        ("https://b.example.com", 2, "default", False, None, None),  # Only raw tuples carry this.
        ("https://c.example.com", 3, "default", False, None, HOST),
    ]
    snapshot, invalid = compile_rows(config, rows, NOW)  # type: ignore[arg-type]
    assert invalid == {1, 2}
    assert decide(snapshot, "GET", "https://c.example.com", host=HOST).allowed
    assert "not in canonical form (a.example b.example); save them again" in caplog.text


def test_packed_scoped_rows_are_trusted_under_trust_for_csrf_true() -> None:
    config = parse_config({"TRUST_FOR_CSRF": True})
    columns = RowColumns({"default": ([], [], [])}, {}, [], {"default": ([A], [1], [HOST], [0])})
    snapshot, invalid = compile_columns(config, columns, NOW)
    assert not invalid
    assert snapshot.trusts_for_csrf(A, "default", HOST)
    assert not snapshot.trusts_for_csrf(A, "default", "api.customer-b.com")
    assert not snapshot.trusts_for_csrf(A, "default")


def test_a_change_that_would_look_through_too_many_scoped_indexes_compiles_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse_config({})
    rows = [(f"https://app{n}.example.com", n, "default", False, None, f"api{n}.example.com") for n in range(1, 6)]
    compiled = compile_rows(config, rows, NOW)
    monkeypatch.setattr(snapshot_module, "_SCOPED_CHANGE_BOUND", 10)
    # Two removed ids over six indexes (the policy's own and five scoped) is 12 pairs: past the bound.
    assert apply_changes(config, compiled, {1, 2}, [], NOW) is None
    kept = apply_changes(config, compiled, {1}, [], NOW)  # 6 pairs: applied.
    assert kept is not None
    assert not decide(kept[0], "GET", "https://app1.example.com", host="api1.example.com").allowed
    assert decide(kept[0], "GET", "https://app2.example.com", host="api2.example.com").allowed
    assert kept[0].rows == 4


def test_a_scoped_pattern_row_expires_out_of_its_index() -> None:
    config = parse_config({})
    expires = datetime.fromtimestamp(NOW + 10, tz=timezone.utc)
    snapshot, _ = compile_rows(config, [("https://*.customer-a.com", 1, "default", False, expires, HOST)], NOW)
    assert decide(snapshot, "GET", A, host=HOST).allowed
    assert snapshot.next_expiry == NOW + 10
    assert snapshot.without_expired(NOW + 5) is snapshot
    later = snapshot.without_expired(NOW + 10)
    assert not decide(later, "GET", A, host=HOST).allowed
    assert later.rows == 0
    assert later.next_expiry is None


def test_canonical_hosts_of_none_a_list_and_a_wrong_type() -> None:
    assert canonicalize_hosts(None) == ""
    assert canonicalize_hosts(["B.example", ".a.example"]) == ".a.example b.example"
    with pytest.raises(ValidationError, match="not int"):
        canonicalize_hosts(3)


def test_packed_scoped_rows_of_a_policy_without_credentials_trust_nobody() -> None:
    config = parse_config({"POLICIES": {"readers": {"USE_DATABASE": True}}})
    columns = RowColumns(
        {"default": ([], [], []), "readers": ([], [], [])}, {}, [], {"readers": ([A], [1], [HOST], [1])}
    )
    snapshot, _ = compile_columns(config, columns, NOW)
    assert decide(snapshot, "GET", A, policy="readers", host=HOST).allowed
    assert not snapshot.trusts_for_csrf(A, "readers", HOST)
