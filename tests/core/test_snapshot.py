"""The compiled snapshot: prebuilt headers and decisions, grants, sources, CSRF trust."""

from __future__ import annotations

import dataclasses

import pytest

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Decision, Headers, Kind, Reason
from credcors.core.fetch import (
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
)
from credcors.core.grants import Grant
from credcors.core.origins import Rule, parse_rule
from credcors.core.snapshot import Snapshot, compile_policy, compile_snapshot

HEADERS = Headers.build(allow_methods=["GET", "PUT"], allow_headers=["Content-Type", "X-CSRFToken"])


def _rows(*entries: tuple[str, int]) -> list[tuple[Rule, str, int, float | None]]:
    """Database rows as the loader hands them over: (rule, its serialization, row id, expiry)."""
    rows: list[tuple[Rule, str, int, float | None]] = []
    for value, pk in entries:
        rule = parse_rule(value)
        rows.append((rule, rule.serialize(), pk, None))
    return rows


def _snapshot(
    rules: tuple[str, ...] = (), rows: tuple[tuple[str, int], ...] = (), trust_for_csrf: bool = False
) -> Snapshot:
    # TRUST_FOR_CSRF: True trusts every exact origin of the default policy, settings and rows.
    trusted = frozenset(value for value in rules if "*" not in value) if trust_for_csrf else frozenset()
    parsed = [parse_rule(value) for value in rules]
    return compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, parsed, _rows(*rows), csrf_origins=trusted, trust_rows=trust_for_csrf)]
    )


# --- Headers ----------------------------------------------------------------------


def test_headers_build_prepares_every_allowed_header_once() -> None:
    headers = Headers.build(
        allow_methods=["GET", "PATCH", "GET"],
        allow_headers=["Content-Type", "x-csrftoken", "content-type"],
        expose_headers=["ETag", "X-Total", "ETag"],
        max_age=7200,
    )

    assert headers.allow_methods == {"GET", "PATCH"}
    assert headers.allow_headers == {"content-type", "x-csrftoken"}
    assert headers.allow_methods_value == "GET, PATCH"
    assert headers.credentials is True
    assert headers.actual == (
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_EXPOSE_HEADERS, "ETag, X-Total"),
    )
    assert headers.preflight == (
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_ALLOW_METHODS, "GET, PATCH"),
        (ACCESS_CONTROL_ALLOW_HEADERS, "content-type, x-csrftoken"),
        (ACCESS_CONTROL_MAX_AGE, "7200"),
    )


def test_headers_build_without_credentials_exposed_or_allowed_headers_sends_only_the_rest() -> None:
    headers = Headers.build(allow_methods=["GET"], allow_headers=[], credentials=False)

    assert headers.actual == ()
    assert headers.preflight == ((ACCESS_CONTROL_ALLOW_METHODS, "GET"), (ACCESS_CONTROL_MAX_AGE, "600"))
    assert headers.allow_headers == frozenset()


def test_headers_build_takes_one_pass_iterables() -> None:
    headers = Headers.build(allow_methods=iter(["GET"]), allow_headers=iter(["Accept"]), expose_headers=iter(["ETag"]))

    assert headers.allow_methods == {"GET"}
    assert headers.allow_headers == {"accept"}
    assert headers.actual[-1] == (ACCESS_CONTROL_EXPOSE_HEADERS, "ETag")


# --- Grant and Decision -------------------------------------------------------------------


def test_grant_for_an_exact_origin_carries_its_allowed_decisions() -> None:
    rule = parse_rule("https://app.example.com")

    grant = Grant.build(rule, 7, HEADERS, csrf=True)

    assert grant.origin == "https://app.example.com"
    assert grant.csrf is True
    assert grant.actual == Decision(
        Kind.ACTUAL,
        True,
        Reason.ALLOWED,
        ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"), *HEADERS.actual),
        rule,
        7,
    )
    assert grant.preflight == Decision(
        Kind.PREFLIGHT,
        True,
        Reason.ALLOWED,
        ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"), *HEADERS.preflight),
        rule,
        7,
    )
    assert grant.allow(Kind.ACTUAL, "https://app.example.com") is grant.actual
    assert grant.allow(Kind.PREFLIGHT, "https://app.example.com") is grant.preflight


def test_grant_uses_the_serialization_it_is_given() -> None:
    # The loader has each row's serialization already; it is not made again.
    rule = parse_rule("https://app.example.com")

    grant = Grant.build(rule, 1, HEADERS, origin="https://app.example.com")

    assert grant.origin == "https://app.example.com"
    assert grant.actual is not None
    assert grant.actual.headers[0] == (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com")


def test_grant_for_a_pattern_has_no_prebuilt_decisions_and_never_csrf_trust() -> None:
    rule = parse_rule("https://*.example.com")

    grant = Grant.build(rule, None, HEADERS, csrf=True)

    assert grant.origin == "https://*.example.com"
    assert (grant.actual, grant.preflight, grant.csrf) == (None, None, False)
    actual = grant.allow(Kind.ACTUAL, "https://a.example.com")
    preflight = grant.allow(Kind.PREFLIGHT, "https://b.example.com")
    assert actual == Decision(
        Kind.ACTUAL,
        True,
        Reason.ALLOWED,
        ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://a.example.com"), *HEADERS.actual),
        rule,
        None,
    )
    assert preflight.headers == ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://b.example.com"), *HEADERS.preflight)
    assert preflight.status == 204


@pytest.mark.parametrize(
    ("kind", "allowed", "status"),
    [
        (Kind.PREFLIGHT, True, 204),
        (Kind.PREFLIGHT, False, 403),
        (Kind.ACTUAL, True, None),
        (Kind.ACTUAL, False, None),
        (Kind.NOT_CORS, False, None),
    ],
)
def test_decision_status_is_set_only_for_preflights(kind: Kind, allowed: bool, status: int | None) -> None:
    assert Decision(kind, allowed, Reason.ALLOWED if allowed else Reason.ORIGIN_NOT_ALLOWED).status == status


def test_decision_refused_preflight_carrying_headers_is_answered_204() -> None:
    # An allowed origin's preflight refused for a method or header carries the
    # allowed lists with a 2xx, so the browser's console names what it asked for.
    headers = ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://a.example.com"), *HEADERS.preflight)

    assert Decision(Kind.PREFLIGHT, False, Reason.METHOD_NOT_ALLOWED, headers).status == 204
    assert Decision(Kind.PREFLIGHT, False, Reason.METHOD_NOT_ALLOWED).status == 403


def test_decision_defaults_say_nothing_matched() -> None:
    decision = Decision(Kind.ACTUAL, False, Reason.ORIGIN_NOT_ALLOWED)

    assert (decision.headers, decision.rule, decision.source, decision.detail) == ((), None, None, None)


# --- decide() on a snapshot: nothing built per request ----------------------------------


@pytest.mark.parametrize(
    ("method", "request_method", "request_headers"),
    [("GET", None, None), ("POST", None, None), ("OPTIONS", "PUT", None), ("OPTIONS", "GET", "content-type")],
)
def test_decide_returns_the_very_same_prebuilt_decision_for_an_exact_origin(
    method: str, request_method: str | None, request_headers: str | None
) -> None:
    # Identity, not equality: the allowed answer was built at compile time.
    snapshot = _snapshot(("https://app.example.com",))
    grant = snapshot.default.index.lookup("https://app.example.com")
    assert grant is not None

    first = decide(snapshot, method, "https://app.example.com", request_method, request_headers)
    second = decide(snapshot, method, "https://app.example.com", request_method, request_headers)

    assert first.allowed is True
    assert first is second
    assert first is (grant.preflight if method == "OPTIONS" else grant.actual)


def test_decide_pattern_decision_carries_the_request_origin() -> None:
    snapshot = _snapshot(("https://*.example.com",))

    first = decide(snapshot, "GET", "https://a.example.com")
    second = decide(snapshot, "GET", "https://b.c.example.com")

    assert dict(first.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == "https://a.example.com"
    assert dict(second.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == "https://b.c.example.com"
    assert first.headers[1:] == second.headers[1:] == HEADERS.actual
    assert first.rule == second.rule == parse_rule("https://*.example.com")


def test_decide_refusals_of_an_origin_are_shared_constants() -> None:
    snapshot = _snapshot(("https://app.example.com",))

    assert decide(snapshot, "GET", "https://evil.example") is decide(snapshot, "GET", "https://other.example")
    assert decide(snapshot, "GET", None) is decide(snapshot, "POST", None)


# --- compile_snapshot: sources, precedence, lookups --------------------------------------


def test_compile_snapshot_settings_win_over_a_row_for_the_same_rule() -> None:
    snapshot = _snapshot(
        ("https://app.example.com", "https://*.example.org"),
        rows=(("https://app.example.com", 1), ("https://*.example.org", 2), ("https://b.example.com", 3)),
    )

    exact = decide(snapshot, "GET", "https://app.example.com")
    pattern = decide(snapshot, "GET", "https://x.example.org")
    row = decide(snapshot, "GET", "https://b.example.com")

    assert (exact.source, pattern.source, row.source) == (None, None, 3)
    assert row.rule == parse_rule("https://b.example.com")
    assert snapshot.rows == 1  # The rows in use: the other two are shadowed by settings.
    assert len(snapshot.default.index) == 3


def test_compile_snapshot_first_row_wins_over_a_later_duplicate() -> None:
    snapshot = _snapshot(rows=(("https://app.example.com", 5), ("https://app.example.com", 9)))

    assert decide(snapshot, "GET", "https://app.example.com").source == 5


def test_compile_snapshot_row_keeps_its_id_in_every_decision() -> None:
    snapshot = _snapshot(rows=(("https://*.example.com", 42),))

    refused = decide(snapshot, "OPTIONS", "https://a.example.com", "DELETE")

    assert decide(snapshot, "GET", "https://a.example.com").source == 42
    assert refused.reason is Reason.METHOD_NOT_ALLOWED
    assert refused.source == 42
    assert refused.rule == parse_rule("https://*.example.com")
    assert refused.headers == ((ACCESS_CONTROL_ALLOW_ORIGIN, "https://a.example.com"), *HEADERS.preflight)


def test_a_settings_entry_shadows_a_row_of_its_origin() -> None:
    snapshot = _snapshot(
        ("https://*.example.com", "https://app.example.com"),
        rows=(("https://b.example.com", 1), ("https://app.example.com", 2)),
    )
    from_settings = [grant.rule for grant in snapshot.default.index if grant.source is None]

    assert set(from_settings) == {parse_rule("https://*.example.com"), parse_rule("https://app.example.com")}
    assert len(from_settings) == 2
    assert snapshot.rows == 1


def test_snapshot_lookup_returns_the_grant() -> None:
    snapshot = _snapshot(("https://*.example.com",), rows=(("https://app.example.com", 4),))

    exact = snapshot.default.index.lookup("https://app.example.com")
    pattern = snapshot.default.index.lookup("https://a.example.com")

    assert exact is not None
    assert (exact.rule, exact.source) == (parse_rule("https://app.example.com"), 4)
    assert pattern is not None
    assert pattern.rule == parse_rule("https://*.example.com")
    assert snapshot.default.index.lookup("https://example.com") is None


def test_empty_snapshot_allows_nothing() -> None:
    snapshot = compile_snapshot([compile_policy(DEFAULT_POLICY, HEADERS, [])])

    assert snapshot.rows == 0
    assert len(snapshot.default.index) == 0
    assert snapshot.default.index.lookup("https://app.example.com") is None
    assert snapshot.trusts_for_csrf("https://app.example.com", "default") is False


# --- CSRF trust ------------------------------------------------------------------------


def test_trusts_for_csrf_only_exact_grants_when_trust_is_on() -> None:
    snapshot = _snapshot(
        ("https://app.example.com", "https://*.example.com"),
        rows=(("https://b.example.org", 1), ("https://*.example.org", 2)),
        trust_for_csrf=True,
    )

    assert snapshot.trusts_for_csrf("https://app.example.com", "default") is True
    assert snapshot.trusts_for_csrf("https://b.example.org", "default") is True
    # A pattern covers hosts nobody reviewed: never trusted for CSRF.
    assert snapshot.trusts_for_csrf("https://a.example.com", "default") is False
    assert snapshot.trusts_for_csrf("https://a.example.org", "default") is False
    assert snapshot.trusts_for_csrf("https://evil.example", "default") is False
    # ...even though CORS allows them.
    assert decide(snapshot, "GET", "https://a.example.com").allowed is True


def test_trusts_for_csrf_nothing_when_trust_is_off() -> None:
    snapshot = _snapshot(("https://app.example.com",), rows=(("https://b.example.org", 1),))

    assert snapshot.trusts_for_csrf("https://app.example.com", "default") is False
    assert snapshot.trusts_for_csrf("https://b.example.org", "default") is False


# --- immutability ----------------------------------------------------------------------


def test_snapshot_grants_and_headers_are_immutable() -> None:
    snapshot = _snapshot(("https://app.example.com",))
    grant = snapshot.default.index.lookup("https://app.example.com")
    assert grant is not None

    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.next_expiry = 5.0  # type: ignore[misc]
    with pytest.raises(AttributeError):  # A NamedTuple: fields cannot be set.
        grant.csrf = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        HEADERS.credentials = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.default.index.exact["https://evil.example"] = grant  # type: ignore[index]


# -- the hot cache: a row or pattern origin answered as a settings origin is ----


def test_a_row_origin_is_answered_from_the_cache_with_its_decision_prebuilt() -> None:
    snapshot = _snapshot(rules=("https://app.example.com",), rows=(("https://row.example.net", 7),))

    first = decide(snapshot, "GET", "https://row.example.net")
    second = decide(snapshot, "GET", "https://row.example.net")

    assert first.allowed
    assert first.source == 7
    assert second is first  # the same prebuilt decision, as a settings origin gets
    assert first.headers[0] == (ACCESS_CONTROL_ALLOW_ORIGIN, "https://row.example.net")
    assert decide(snapshot, "GET", "https://app.example.com") is decide(snapshot, "GET", "https://app.example.com")


def test_a_pattern_origin_cached_still_echoes_its_own_origin() -> None:
    snapshot = _snapshot(rules=("https://*.example.com",))

    for origin in ("https://a.example.com", "https://b.example.com", "https://a.example.com"):
        decision = decide(snapshot, "GET", origin)
        assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == origin
        preflight = decide(snapshot, "OPTIONS", origin, "PUT")
        assert preflight.allowed
        assert dict(preflight.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == origin


def test_the_cache_is_bounded_and_settings_origins_survive_its_replacement() -> None:
    snapshot = _snapshot(rules=("https://app.example.com", "https://*.example.org"))
    index = snapshot.default.index

    for n in range(3000):
        assert decide(snapshot, "GET", f"https://host{n}.example.org").allowed
        assert not decide(snapshot, "GET", f"https://refused{n}.example.net").allowed

    assert len(index.hot) <= len(index.exact) + 1024
    assert len(index._refused) <= 1024
    assert decide(snapshot, "GET", "https://app.example.com").allowed
    assert decide(snapshot, "GET", "https://host0.example.org").allowed  # evicted, found again


def test_a_settings_origin_missed_by_a_replaced_cache_is_found_as_itself() -> None:
    # Another thread may replace ``hot`` between two reads: find() looks in
    # ``exact`` first, and a settings grant, already prebuilt, is kept as is.
    snapshot = _snapshot(rules=("https://app.example.com",))
    index = snapshot.default.index

    grant, serialized = index.find("https://app.example.com")

    assert serialized
    assert grant is index.exact["https://app.example.com"]
