"""The Fetch CORS protocol for one request: classification, verdicts, headers, hostile input."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import classify, decide, refusal_reason
from credcors.core.decision import Decision, Headers, Kind, Reason
from credcors.core.fetch import (
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
    MAX_REQUEST_HEADER_NAMES,
    MAX_REQUEST_HEADERS_LENGTH,
)
from credcors.core.origins import parse_rule
from credcors.core.snapshot import Snapshot, compile_policy, compile_snapshot

METHODS = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")
HEADERS = ("accept", "authorization", "content-type", "x-csrftoken", "x-requested-with")
ALL_HEADERS = "accept, authorization, content-type, x-csrftoken, x-requested-with"
ORIGINS = ("https://app.example.com", "https://*.preview.example.com", "http://localhost:3001", "http://[::1]:8000")


def build_snapshot(
    origins: Iterable[str] = ORIGINS,
    *,
    allow_methods: Iterable[str] = METHODS,
    allow_headers: Iterable[str] = HEADERS,
    expose_headers: Iterable[str] = (),
    credentials: bool = True,
    max_age: int = 600,
) -> Snapshot:
    headers = Headers.build(
        allow_methods=allow_methods,
        allow_headers=allow_headers,
        expose_headers=expose_headers,
        credentials=credentials,
        max_age=max_age,
    )
    return compile_snapshot([compile_policy(DEFAULT_POLICY, headers, [parse_rule(origin) for origin in origins])])


SNAPSHOT = build_snapshot()


def preflight(
    origin: str | None = "https://app.example.com",
    request_method: str = "PUT",
    request_headers: str | None = None,
    snapshot: Snapshot = SNAPSHOT,
) -> Decision:
    return decide(snapshot, "OPTIONS", origin, request_method, request_headers)


def _names(decision: Decision) -> list[str]:
    return [name for name, _ in decision.headers]


# An allowed origin asking for a method or header outside the lists is refused
# with the allowed preflight's headers, so the browser names what it asked for.
NAMED_REFUSALS = (Reason.METHOD_NOT_ALLOWED, Reason.HEADER_NOT_ALLOWED)


def allowed_preflight_headers(
    origin: str, *, credentials: bool = True, allow_headers: str = ALL_HEADERS
) -> tuple[tuple[str, str], ...]:
    """An allowed preflight's headers, written out by hand: no request input but the origin."""
    return (
        (ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        *(((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),) if credentials else ()),
        (ACCESS_CONTROL_ALLOW_METHODS, ", ".join(METHODS)),
        (ACCESS_CONTROL_ALLOW_HEADERS, allow_headers),
        (ACCESS_CONTROL_MAX_AGE, "600"),
    )


# --- classification -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_method"),
    [("GET", None), ("POST", None), ("OPTIONS", None), ("OPTIONS", "PUT")],
)
def test_decide_without_origin_is_not_cors(method: str, request_method: str | None) -> None:
    decision = decide(SNAPSHOT, method, None, request_method, "content-type")

    assert decision.kind is Kind.NOT_CORS
    assert decision.allowed is False
    assert decision.reason is Reason.NO_ORIGIN
    assert decision.headers == ()
    assert decision.status is None


@pytest.mark.parametrize(
    ("method", "origin", "request_method", "kind"),
    [
        ("OPTIONS", None, "PUT", Kind.NOT_CORS),
        ("OPTIONS", "https://a.example", "PUT", Kind.PREFLIGHT),
        ("OPTIONS", "https://a.example", "", Kind.PREFLIGHT),
        ("OPTIONS", "https://a.example", None, Kind.ACTUAL),
        ("options", "https://a.example", "PUT", Kind.ACTUAL),
        ("GET", "null", "PUT", Kind.ACTUAL),
    ],
)
def test_classify_follows_fetch(method: str, origin: str | None, request_method: str | None, kind: Kind) -> None:
    assert classify(method, origin, request_method) is kind


def test_decide_options_with_origin_and_request_method_is_preflight() -> None:
    assert preflight().kind is Kind.PREFLIGHT


def test_decide_options_with_empty_request_method_is_still_preflight() -> None:
    # The header is present, so Fetch calls it a preflight; an empty method is malformed.
    decision = preflight(request_method="")

    assert decision.kind is Kind.PREFLIGHT
    assert decision.reason is Reason.MALFORMED_METHOD
    assert decision.status == 403


def test_decide_options_without_request_method_is_actual_request() -> None:
    decision = decide(SNAPSHOT, "OPTIONS", "https://app.example.com")

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is True
    assert decision.status is None
    assert ACCESS_CONTROL_ALLOW_METHODS not in _names(decision)


@pytest.mark.parametrize("method", ["GET", "POST", "options"])
def test_decide_other_method_with_request_method_header_is_actual_request(method: str) -> None:
    decision = decide(SNAPSHOT, method, "https://app.example.com", "PUT", "x-evil")

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is True
    assert _names(decision) == [ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_ALLOW_CREDENTIALS]


# --- actual requests ------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "rule"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://pr-7.preview.example.com", "https://*.preview.example.com"),
        ("http://localhost:3001", "http://localhost:3001"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_decide_actual_allowed_origin_gets_exactly_its_origin_and_credentials(origin: str, rule: str) -> None:
    decision = decide(SNAPSHOT, "GET", origin)

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is True
    assert decision.reason is Reason.ALLOWED
    assert decision.headers == ((ACCESS_CONTROL_ALLOW_ORIGIN, origin), (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
    assert decision.rule == parse_rule(rule)
    assert decision.source is None  # a settings entry
    assert decision.detail is None


@pytest.mark.parametrize(
    ("rules", "origin"),
    [
        (["http://*.localhost:3000"], "http://k_.localhost:3000"),
        (["https://my_app.example.com"], "https://my_app.example.com"),
        (["https://-fc3.example.org"], "https://-fc3.example.org"),
        (["https://*.example.org"], "https://-fc3.example.org"),
        (["https://*.example.org"], "https://a_.b-.example.org"),
    ],
)
def test_decide_browser_hosts_with_underscores_and_edge_hyphens_are_allowed(rules: list[str], origin: str) -> None:
    # Issue 11: WHATWG URL parsing keeps such hosts, so browsers send them.
    decision = decide(build_snapshot(rules), "GET", origin)

    assert decision.allowed is True
    assert decision.rule == parse_rule(rules[0])
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == origin


def test_decide_actual_allowed_with_expose_headers_sends_them_deduplicated() -> None:
    snapshot = build_snapshot(expose_headers=["X-Total-Count", "ETag", "X-Total-Count"])

    decision = decide(snapshot, "POST", "https://app.example.com")

    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_EXPOSE_HEADERS, "X-Total-Count, ETag"),
    )


def test_decide_actual_allowed_without_credentials_sends_origin_but_no_credentials_header() -> None:
    snapshot = build_snapshot(credentials=False, expose_headers=["ETag"])

    decision = decide(snapshot, "GET", "https://app.example.com")

    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_EXPOSE_HEADERS, "ETag"),
    )


def test_decide_actual_refused_origin_gets_no_headers() -> None:
    decision = decide(SNAPSHOT, "GET", "https://evil.example.org")

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is False
    assert decision.reason is Reason.ORIGIN_NOT_ALLOWED
    assert decision.headers == ()
    assert decision.rule is None
    assert decision.source is None
    assert decision.status is None


def test_decide_with_empty_allow_list_refuses_everyone() -> None:
    snapshot = build_snapshot(origins=())

    assert decide(snapshot, "GET", "https://app.example.com").headers == ()
    assert decide(snapshot, "GET", "https://a.preview.example.com").headers == ()
    assert preflight(snapshot=snapshot).status == 403


# --- preflights -----------------------------------------------------------------


def test_decide_preflight_allowed_answers_204_with_all_headers_in_order() -> None:
    decision = preflight(request_method="PATCH", request_headers="content-type,x-csrftoken")

    assert decision.allowed is True
    assert decision.reason is Reason.ALLOWED
    assert decision.status == 204
    assert decision.rule == parse_rule("https://app.example.com")
    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, PUT, PATCH, POST, DELETE"),
        (ACCESS_CONTROL_ALLOW_HEADERS, ALL_HEADERS),
        (ACCESS_CONTROL_MAX_AGE, "600"),
    )


def test_decide_preflight_pattern_origin_gets_its_own_origin_and_the_same_tail() -> None:
    decision = preflight(origin="https://pr-9.preview.example.com", request_headers="accept")

    assert decision.allowed is True
    assert decision.rule == parse_rule("https://*.preview.example.com")
    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://pr-9.preview.example.com"),
        *preflight().headers[1:],
    )


@pytest.mark.parametrize(
    "request_headers", ["Content-Type, X-CSRFToken,content-type ,, \tAccept\t,", "accept", "x-requested-with"]
)
def test_decide_preflight_allowed_sends_the_whole_configured_header_list(request_headers: str) -> None:
    # Fetch §4.8: the browser only checks that each name it asked for is
    # listed, so the prebuilt full list answers every allowed preflight.
    decision = preflight(request_headers=request_headers)

    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == ALL_HEADERS


@pytest.mark.parametrize("request_headers", [None, "", " , ,\t"])
def test_decide_preflight_without_requested_headers_still_lists_the_allowed_ones(request_headers: str | None) -> None:
    decision = preflight(request_headers=request_headers)

    assert decision.allowed is True
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == ALL_HEADERS


@pytest.mark.parametrize("request_headers", [None, "", " , "])
def test_decide_preflight_with_no_allowed_headers_sends_no_allow_headers(request_headers: str | None) -> None:
    decision = preflight(request_headers=request_headers, snapshot=build_snapshot(allow_headers=()))

    assert decision.allowed is True
    assert ACCESS_CONTROL_ALLOW_HEADERS not in _names(decision)


def test_decide_preflight_with_no_allowed_headers_refuses_any_requested_one() -> None:
    decision = preflight(request_headers="accept", snapshot=build_snapshot(allow_headers=()))

    assert decision.reason is Reason.HEADER_NOT_ALLOWED
    assert decision.detail == "accept"


def test_decide_preflight_allow_headers_setting_is_case_insensitive() -> None:
    snapshot = build_snapshot(allow_headers=["X-Custom-Header", "Accept", "x-custom-header"])

    decision = preflight(request_headers="x-custom-header", snapshot=snapshot)

    assert decision.allowed is True
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "x-custom-header, accept"


def test_decide_preflight_without_credentials_omits_credentials_header() -> None:
    decision = preflight(snapshot=build_snapshot(credentials=False))

    assert decision.allowed is True
    assert ACCESS_CONTROL_ALLOW_CREDENTIALS not in _names(decision)


@pytest.mark.parametrize("max_age", [0, 7200, 86400])
def test_decide_preflight_max_age_is_the_configured_value(max_age: int) -> None:
    decision = preflight(snapshot=build_snapshot(max_age=max_age))

    assert dict(decision.headers)[ACCESS_CONTROL_MAX_AGE] == str(max_age)


def test_headers_build_deduplicates_methods_keeping_order() -> None:
    snapshot = build_snapshot(allow_methods=["POST", "GET", "POST"])

    assert snapshot.default.headers.allow_methods == frozenset({"GET", "POST"})
    assert dict(preflight(request_method="GET", snapshot=snapshot).headers)[ACCESS_CONTROL_ALLOW_METHODS] == "POST, GET"


def test_decide_preflight_refused_origin_answers_403_without_headers() -> None:
    decision = preflight(origin="https://evil.example.org")

    assert decision.kind is Kind.PREFLIGHT
    assert decision.allowed is False
    assert decision.reason is Reason.ORIGIN_NOT_ALLOWED
    assert decision.status == 403
    assert decision.headers == ()


@pytest.mark.parametrize("request_method", ["patch", "Put", "delete", "PROPFIND", "CONNECT"])
def test_decide_preflight_method_not_listed_is_refused_case_sensitively(request_method: str) -> None:
    decision = preflight(request_method=request_method)

    assert decision.allowed is False
    assert decision.reason is Reason.METHOD_NOT_ALLOWED
    assert decision.detail == request_method
    assert decision.status == 204
    assert decision.headers == allowed_preflight_headers("https://app.example.com")
    assert decision.rule == parse_rule("https://app.example.com")
    assert decision.source is None


def test_decide_preflight_refusal_after_a_pattern_match_names_the_pattern() -> None:
    decision = preflight(origin="https://a.preview.example.com", request_method="PROPFIND")

    assert decision.reason is Reason.METHOD_NOT_ALLOWED
    assert decision.rule == parse_rule("https://*.preview.example.com")
    assert decision.headers == allowed_preflight_headers("https://a.preview.example.com")


def test_decide_preflight_listed_lowercase_method_is_allowed_exactly() -> None:
    snapshot = build_snapshot(allow_methods=["GET", "patch"])

    assert preflight(request_method="patch", snapshot=snapshot).allowed is True
    assert preflight(request_method="PATCH", snapshot=snapshot).reason is Reason.METHOD_NOT_ALLOWED


@pytest.mark.parametrize(
    "request_method",
    ["GET POST", "GET,POST", "PUT\r\nX-Evil: 1", "PÜT", "(PUT)", "M" * 65, "P" * 100_000],
)
def test_decide_preflight_malformed_method_is_refused_without_detail(request_method: str) -> None:
    decision = preflight(request_method=request_method)

    assert decision.allowed is False
    assert decision.reason is Reason.MALFORMED_METHOD
    assert decision.detail is None
    assert decision.status == 403
    assert decision.headers == ()


def test_decide_preflight_longest_token_method_is_judged_on_the_list() -> None:
    decision = preflight(request_method="M" * 64)

    assert decision.reason is Reason.METHOD_NOT_ALLOWED


def test_decide_preflight_longest_listed_method_is_allowed() -> None:
    snapshot = build_snapshot(allow_methods=["M" * 64])

    assert preflight(request_method="M" * 64, snapshot=snapshot).allowed is True
    assert preflight(request_method="M" * 65, snapshot=snapshot).reason is Reason.MALFORMED_METHOD


@pytest.mark.parametrize(
    ("request_headers", "refused"),
    [
        ("content-type, x-evil", "x-evil"),
        ("X-Evil", "x-evil"),
        ("cookie", "cookie"),
        ("accept, x-a, x-b", "x-a"),
        ("*", "*"),
    ],
)
def test_decide_preflight_header_not_allowed_is_refused_naming_it(request_headers: str, refused: str) -> None:
    decision = preflight(request_headers=request_headers)

    assert decision.allowed is False
    assert decision.reason is Reason.HEADER_NOT_ALLOWED
    assert decision.detail == refused
    assert decision.status == 204
    assert decision.headers == allowed_preflight_headers("https://app.example.com")


@pytest.mark.parametrize(
    "request_headers",
    ["content-type; x", "accept\r\nset-cookie: a=b", "x-ä", "content type", "accept, (x)", "a:b"],
)
def test_decide_preflight_malformed_request_headers_are_refused(request_headers: str) -> None:
    decision = preflight(request_headers=request_headers)

    assert decision.allowed is False
    assert decision.reason is Reason.MALFORMED_REQUEST_HEADERS
    assert decision.detail is None
    assert decision.status == 403
    assert decision.headers == ()


def test_decide_preflight_request_headers_at_the_length_limit_are_read() -> None:
    request_headers = "accept" + " " * (MAX_REQUEST_HEADERS_LENGTH - len("accept"))

    decision = preflight(request_headers=request_headers)

    assert decision.allowed is True
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == ALL_HEADERS


def test_decide_preflight_request_headers_over_the_length_limit_are_refused() -> None:
    request_headers = "accept" + " " * (MAX_REQUEST_HEADERS_LENGTH + 1 - len("accept"))

    decision = preflight(request_headers=request_headers)

    assert decision.reason is Reason.REQUEST_HEADERS_TOO_LONG
    assert decision.status == 403
    assert decision.headers == ()


def test_decide_preflight_names_up_to_the_limit_are_read() -> None:
    snapshot = build_snapshot(allow_headers=["a"])

    decision = preflight(request_headers=",".join(["A"] * MAX_REQUEST_HEADER_NAMES), snapshot=snapshot)

    assert decision.allowed is True
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "a"


def test_decide_preflight_names_over_the_limit_are_refused_unread() -> None:
    snapshot = build_snapshot(allow_headers=["a"])

    decision = preflight(request_headers=",".join(["a"] * (MAX_REQUEST_HEADER_NAMES + 1)), snapshot=snapshot)

    assert decision.reason is Reason.REQUEST_HEADERS_TOO_LONG
    assert decision.headers == ()


def test_decide_preflight_thousand_distinct_names_are_refused() -> None:
    decision = preflight(request_headers=", ".join(f"x-h{index}" for index in range(1000)))

    assert decision.reason is Reason.REQUEST_HEADERS_TOO_LONG
    assert decision.headers == ()


def test_decide_preflight_thousand_short_unknown_names_are_refused_unread() -> None:
    decision = preflight(request_headers=",".join(["x"] * 1000))

    assert decision.reason is Reason.REQUEST_HEADERS_TOO_LONG
    assert decision.detail is None


def test_decide_preflight_checks_origin_before_method_and_headers() -> None:
    decision = preflight(origin="https://evil.example.org", request_method="patch", request_headers="x-evil")

    assert decision.reason is Reason.ORIGIN_NOT_ALLOWED
    assert decision.detail is None


def test_decide_preflight_checks_method_before_headers() -> None:
    decision = preflight(request_method="patch", request_headers="x-evil")

    assert decision.reason is Reason.METHOD_NOT_ALLOWED
    assert decision.detail == "patch"


# --- hostile origins ------------------------------------------------------------

HOSTILE_ORIGINS = [
    ("https://" + "a" * 100_000, Reason.ORIGIN_TOO_LONG),
    ("https://app.example.com" + " " * 300, Reason.ORIGIN_TOO_LONG),
    ("null", Reason.NULL_ORIGIN),
    ("https://app.example.com https://evil.example.org", Reason.MULTIPLE_ORIGINS),
    ("https://app.example.com,https://evil.example.org", Reason.MULTIPLE_ORIGINS),
    ("https://app.example.com\r\nSet-Cookie:session=evil", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com\n", Reason.MALFORMED_ORIGIN),
    ("https://app.exämple.com", Reason.MALFORMED_ORIGIN),
    ("https://bücher.preview.example.com", Reason.MALFORMED_ORIGIN),
    ("https://user:pass@app.example.com", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com/path", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com/", Reason.MALFORMED_ORIGIN),
    ("https://APP.example.com", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com:443", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com:0443", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com:65536", Reason.MALFORMED_ORIGIN),
    ("https://app.example.com.", Reason.MALFORMED_ORIGIN),
    ("https://a!b.preview.example.com", Reason.MALFORMED_ORIGIN),
    ("https://a..preview.example.com", Reason.MALFORMED_ORIGIN),
    ("*", Reason.MALFORMED_ORIGIN),
    ("", Reason.MALFORMED_ORIGIN),
    ("file://", Reason.MALFORMED_ORIGIN),
    ("http://[zz]", Reason.MALFORMED_ORIGIN),
    ("http://[::1]:80", Reason.MALFORMED_ORIGIN),
    ("http://[::1]:08000", Reason.MALFORMED_ORIGIN),
    ("https://preview.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("https://evilapp.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("https://app.example.com.evil.com", Reason.ORIGIN_NOT_ALLOWED),
    ("http://app.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("http://[::2]:8000", Reason.ORIGIN_NOT_ALLOWED),
    ("http://[::1]", Reason.ORIGIN_NOT_ALLOWED),
]


@pytest.mark.parametrize(("origin", "reason"), HOSTILE_ORIGINS)
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_decide_hostile_origin_is_refused_without_headers(origin: str, reason: Reason, method: str) -> None:
    decision = decide(SNAPSHOT, method, origin, "GET" if method == "OPTIONS" else None, "content-type")

    assert decision.allowed is False
    assert decision.reason is reason
    assert decision.headers == ()
    assert decision.status == (403 if method == "OPTIONS" else None)


@pytest.mark.parametrize(("origin", "reason"), HOSTILE_ORIGINS)
def test_refusal_reason_agrees_with_decide(origin: str, reason: Reason) -> None:
    # Diagnostics ask it directly, without decide()'s length bound in front.
    assert refusal_reason(origin) is reason


# --- properties -------------------------------------------------------------------

_ORIGIN_PIECES = st.sampled_from(
    [
        *[
            "https://",
            "http://",
            "app",
            "evil",
            "preview",
            "pr-1",
            "localhost",
            "example",
            "com",
            "org",
            ".",
            ":",
            "3001",
            "443",
            "8000",
            "[::1]",
            "/",
            "@",
            ",",
            "null",
            "*",
            "ä",
            "A",
            "_",
            "-",
        ],
        "xn--",
        " ",
        "\r\n",
        "\x00",
    ]
)
_TOKEN_PIECES = st.sampled_from(
    [
        *[
            "GET",
            "PUT",
            "PATCH",
            "patch",
            "DELETE",
            "accept",
            "Content-Type",
            "x-csrftoken",
            "x-evil",
            "cookie",
            ",",
            ";",
            ":",
            "ä",
            "*",
            "(",
        ],
        ", ",
        " ",
        "\t",
        "\r\n",
        "x" * 70,
    ]
)


def _joined(pieces: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.lists(pieces, max_size=max_size).map("".join)


_VETTED = {
    credentials: build_snapshot(credentials=credentials, expose_headers=["ETag"]) for credentials in (True, False)
}


@given(
    method=st.sampled_from(["GET", "POST", "OPTIONS", "OPTIONS", "options", "DELETE"]),
    origin=st.one_of(st.none(), st.sampled_from(ORIGINS), _joined(_ORIGIN_PIECES, 8), st.text(max_size=30)),
    request_method=st.one_of(st.none(), _joined(_TOKEN_PIECES, 2), st.text(max_size=10)),
    request_headers=st.one_of(st.none(), _joined(_TOKEN_PIECES, 8), st.text(max_size=30)),
    credentials=st.booleans(),
)
def test_decide_headers_only_ever_carry_vetted_values(
    method: str, origin: str | None, request_method: str | None, request_headers: str | None, credentials: bool
) -> None:
    snapshot = _VETTED[credentials]

    decision = decide(snapshot, method, origin, request_method, request_headers)

    if not decision.allowed:
        if decision.reason not in NAMED_REFUSALS:
            assert decision.headers == ()
            return
        # Only an allowed origin's preflight, and only the allowed lists:
        # never the method or header it asked for.
        assert origin is not None
        grant = snapshot.default.index.lookup(origin)
        assert grant is not None
        assert decision.kind is Kind.PREFLIGHT
        assert decision.rule == grant.rule
        assert decision.headers == allowed_preflight_headers(origin, credentials=credentials)
        if decision.reason is Reason.METHOD_NOT_ALLOWED:
            assert decision.detail == request_method
            assert request_method not in snapshot.default.headers.allow_methods
        else:
            assert request_method in snapshot.default.headers.allow_methods
            assert decision.detail not in snapshot.default.headers.allow_headers
        return
    assert origin is not None
    grant = snapshot.default.index.lookup(origin)
    assert grant is not None
    assert decision.rule == grant.rule
    headers = dict(decision.headers)
    assert len(headers) == len(decision.headers)
    assert headers[ACCESS_CONTROL_ALLOW_ORIGIN] == origin
    assert origin not in ("*", "null")
    assert (ACCESS_CONTROL_ALLOW_CREDENTIALS in headers) is credentials
    for name, value in decision.headers:
        assert value.isascii()
        assert value.isprintable()
        if name != ACCESS_CONTROL_ALLOW_ORIGIN:
            assert value in {"true", snapshot.default.headers.allow_methods_value, "600", "ETag", ALL_HEADERS}
    if decision.kind is Kind.PREFLIGHT:
        assert request_method in snapshot.default.headers.allow_methods


@given(refused=st.one_of(_joined(_ORIGIN_PIECES, 8), st.text(min_size=1, max_size=30)))
def test_decide_refused_input_never_appears_in_any_header(refused: str) -> None:
    # The same refused value offered in every slot a request controls.
    checks = [
        decide(SNAPSHOT, "GET", refused),
        decide(SNAPSHOT, "OPTIONS", refused, "PUT", "accept"),
        decide(SNAPSHOT, "OPTIONS", "https://app.example.com", refused, "accept"),
        decide(SNAPSHOT, "OPTIONS", "https://app.example.com", "PUT", refused),
        decide(SNAPSHOT, "OPTIONS", "https://app.example.com", "PUT", f"accept, {refused}"),
    ]
    for index, decision in enumerate(checks):
        if decision.allowed:
            continue  # ``refused`` happened to be acceptable there
        if decision.reason in NAMED_REFUSALS:
            # The allowed origin's method or header was refused: its answer is
            # the allowed preflight's, built without any of the request's input.
            assert index >= 2
            assert decision.headers == allowed_preflight_headers("https://app.example.com")
            continue
        assert decision.headers == ()


_WARM = build_snapshot(expose_headers=["ETag"])


@given(
    method=st.sampled_from(["GET", "OPTIONS"]),
    origin=st.one_of(st.sampled_from(ORIGINS), _joined(_ORIGIN_PIECES, 6)),
    request_method=st.one_of(st.none(), _joined(_TOKEN_PIECES, 1)),
    request_headers=st.one_of(st.none(), _joined(_TOKEN_PIECES, 6)),
)
def test_decide_is_pure_so_a_used_snapshot_answers_like_a_fresh_one(
    method: str, origin: str, request_method: str | None, request_headers: str | None
) -> None:
    # _WARM has answered every earlier example; nothing it could keep between
    # calls may ever change an answer.
    fresh = build_snapshot(expose_headers=["ETag"])

    first = decide(_WARM, method, origin, request_method, request_headers)
    second = decide(_WARM, method, origin, request_method, request_headers)

    assert first == second == decide(fresh, method, origin, request_method, request_headers)


def test_decide_many_distinct_origins_each_get_their_own_answer() -> None:
    origins = [f"https://pr-{index}.preview.example.com" for index in range(3000)]

    for _ in range(2):
        for index, origin in enumerate(origins):
            decision = decide(SNAPSHOT, "GET", origin)
            assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == origin
            refused = decide(SNAPSHOT, "GET", f"https://pr-{index}.evil.example.org")
            assert refused.headers == ()


# The verdict on Access-Control-Request-Headers, against the plain per-name
# loop the two C-speed scans in fetch.parse_request_headers replaced.
_REFERENCE_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_TEXT = st.text(alphabet=st.sampled_from(list('aB-x_!,, \t\r\n;:"ü0')), max_size=30)
_HEADER_LIST = st.lists(
    st.sampled_from(["accept", "Content-Type", "x-csrftoken", "x-custom", " a ", "\tb", "", "c d", "é", "x:y"]),
    max_size=12,
).map(",".join)
_HEADER_SNAPSHOT = build_snapshot(["https://app.example.com"], allow_headers=["accept", "content-type", "x-csrftoken"])


def _reference_header_verdict(value: str, allowed: frozenset[str]) -> tuple[Reason, str | None]:
    if len(value) > MAX_REQUEST_HEADERS_LENGTH or value.count(",") >= MAX_REQUEST_HEADER_NAMES:
        return Reason.REQUEST_HEADERS_TOO_LONG, None
    names = []
    for part in value.split(","):
        name = part.strip(" \t")
        if not name:
            continue
        if _REFERENCE_TOKEN_RE.fullmatch(name) is None:
            return Reason.MALFORMED_REQUEST_HEADERS, None
        names.append(name.lower())
    for name in names:
        if name not in allowed:
            return Reason.HEADER_NOT_ALLOWED, name
    return Reason.ALLOWED, None


@given(
    value=st.one_of(
        _HEADER_TEXT, _HEADER_LIST, st.lists(st.sampled_from(["accept", "x", "a b"]), max_size=80).map(",".join)
    )
)
def test_decide_preflight_header_verdict_matches_the_reference(value: str) -> None:
    assume(value)
    decision = decide(_HEADER_SNAPSHOT, "OPTIONS", "https://app.example.com", "PUT", value)

    reason, detail = _reference_header_verdict(value, _HEADER_SNAPSHOT.default.headers.allow_headers)

    assert decision.reason is reason
    assert decision.detail == detail
    if reason is Reason.ALLOWED:
        assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "accept, content-type, x-csrftoken"
    elif reason is Reason.HEADER_NOT_ALLOWED:
        assert decision.headers == allowed_preflight_headers(
            "https://app.example.com", allow_headers="accept, content-type, x-csrftoken"
        )
    else:
        assert decision.headers == ()


def test_reason_and_kind_values_are_stable() -> None:
    # Logs and JSON output carry these strings; renaming one breaks consumers.
    assert {reason.value for reason in Reason} == {
        "no-origin",
        "allowed",
        "null-origin",
        "multiple-origins",
        "origin-too-long",
        "malformed-origin",
        "origin-not-allowed",
        "method-not-allowed",
        "malformed-method",
        "header-not-allowed",
        "request-headers-too-long",
        "malformed-request-headers",
        "unknown-policy",
        "disallowed-host",
    }
    assert {kind.value for kind in Kind} == {"not-cors", "preflight", "actual"}


def test_decision_and_snapshot_are_immutable() -> None:
    decision = preflight()

    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SNAPSHOT.policies = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SNAPSHOT.default.headers = Headers.build(allow_methods=["GET"], allow_headers=[])  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SNAPSHOT.default.headers.credentials = False  # type: ignore[misc]
