"""The Fetch CORS protocol for one request: classification, verdicts, headers, hostile input."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credcors.matcher import compile_rules
from credcors.origins import parse_rule
from credcors.policy import (
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
    MAX_REQUEST_HEADER_NAMES,
    MAX_REQUEST_HEADERS_LENGTH,
    Decision,
    Kind,
    Policy,
    Reason,
    decide,
    parse_request_headers,
)

METHODS = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")
HEADERS = ("accept", "authorization", "content-type", "x-csrftoken", "x-requested-with")
ORIGINS = ("https://app.example.com", "https://*.preview.example.com", "http://localhost:3001", "http://[::1]:8000")


def build_policy(
    origins: Iterable[str] = ORIGINS,
    *,
    allow_methods: Iterable[str] = METHODS,
    allow_headers: Iterable[str] = HEADERS,
    expose_headers: Iterable[str] = (),
    credentials: bool = True,
    max_age: int = 600,
) -> Policy:
    matcher = compile_rules((parse_rule(origin), "settings") for origin in origins)
    return Policy.build(
        matcher,
        allow_methods=allow_methods,
        allow_headers=allow_headers,
        expose_headers=expose_headers,
        credentials=credentials,
        max_age=max_age,
    )


POLICY = build_policy()


def preflight(
    origin: str | None = "https://app.example.com",
    request_method: str = "PUT",
    request_headers: str | None = None,
    policy: Policy = POLICY,
) -> Decision:
    return decide(policy, "OPTIONS", origin, request_method, request_headers)


def _names(decision: Decision) -> list[str]:
    return [name for name, _ in decision.headers]


# --- classification -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_method"),
    [("GET", None), ("POST", None), ("OPTIONS", None), ("OPTIONS", "PUT")],
)
def test_decide_without_origin_is_not_cors(method: str, request_method: str | None) -> None:
    decision = decide(POLICY, method, None, request_method, "content-type")

    assert decision.kind is Kind.NOT_CORS
    assert decision.allowed is False
    assert decision.reason is Reason.NO_ORIGIN
    assert decision.headers == ()
    assert decision.status is None


def test_decide_options_with_origin_and_request_method_is_preflight() -> None:
    assert preflight().kind is Kind.PREFLIGHT


def test_decide_options_with_empty_request_method_is_still_preflight() -> None:
    # The header is present, so Fetch calls it a preflight; an empty method is malformed.
    decision = preflight(request_method="")

    assert decision.kind is Kind.PREFLIGHT
    assert decision.reason is Reason.MALFORMED_METHOD
    assert decision.status == 403


def test_decide_options_without_request_method_is_actual_request() -> None:
    decision = decide(POLICY, "OPTIONS", "https://app.example.com")

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is True
    assert decision.status is None
    assert ACCESS_CONTROL_ALLOW_METHODS not in _names(decision)


@pytest.mark.parametrize("method", ["GET", "POST", "options"])
def test_decide_other_method_with_request_method_header_is_actual_request(method: str) -> None:
    decision = decide(POLICY, method, "https://app.example.com", "PUT", "x-evil")

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
    decision = decide(POLICY, "GET", origin)

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is True
    assert decision.reason is Reason.ALLOWED
    assert decision.headers == ((ACCESS_CONTROL_ALLOW_ORIGIN, origin), (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
    assert decision.rule == rule
    assert decision.source == "settings"


def test_decide_actual_allowed_with_expose_headers_sends_them_deduplicated() -> None:
    policy = build_policy(expose_headers=["X-Total-Count", "ETag", "X-Total-Count"])

    decision = decide(policy, "POST", "https://app.example.com")

    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_EXPOSE_HEADERS, "X-Total-Count, ETag"),
    )


def test_decide_actual_allowed_without_credentials_sends_origin_but_no_credentials_header() -> None:
    policy = build_policy(credentials=False, expose_headers=["ETag"])

    decision = decide(policy, "GET", "https://app.example.com")

    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_EXPOSE_HEADERS, "ETag"),
    )


def test_decide_actual_refused_origin_gets_no_headers() -> None:
    decision = decide(POLICY, "GET", "https://evil.example.org")

    assert decision.kind is Kind.ACTUAL
    assert decision.allowed is False
    assert decision.reason is Reason.ORIGIN_NOT_ALLOWED
    assert decision.headers == ()
    assert decision.rule is None
    assert decision.source is None
    assert decision.status is None


def test_decide_with_empty_allow_list_refuses_everyone() -> None:
    policy = build_policy(origins=())

    assert decide(policy, "GET", "https://app.example.com").headers == ()
    assert preflight(policy=policy).status == 403


# --- preflights -----------------------------------------------------------------


def test_decide_preflight_allowed_answers_204_with_all_headers_in_order() -> None:
    decision = preflight(request_method="PATCH", request_headers="content-type,x-csrftoken")

    assert decision.allowed is True
    assert decision.reason is Reason.ALLOWED
    assert decision.status == 204
    assert decision.rule == "https://app.example.com"
    assert decision.headers == (
        (ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com"),
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
        (ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, PUT, PATCH, POST, DELETE"),
        (ACCESS_CONTROL_ALLOW_HEADERS, "content-type, x-csrftoken"),
        (ACCESS_CONTROL_MAX_AGE, "600"),
    )


def test_decide_preflight_requested_headers_are_echoed_lowercase_and_deduplicated() -> None:
    decision = preflight(request_headers="Content-Type, X-CSRFToken,content-type ,, \tAccept\t,")

    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "content-type, x-csrftoken, accept"


@pytest.mark.parametrize("request_headers", [None, "", " , ,\t"])
def test_decide_preflight_without_requested_headers_sends_no_allow_headers(request_headers: str | None) -> None:
    decision = preflight(request_headers=request_headers)

    assert decision.allowed is True
    assert ACCESS_CONTROL_ALLOW_HEADERS not in _names(decision)


def test_decide_preflight_allow_headers_setting_is_case_insensitive() -> None:
    policy = build_policy(allow_headers=["X-Custom-Header"])

    decision = preflight(request_headers="x-custom-header", policy=policy)

    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "x-custom-header"


def test_decide_preflight_without_credentials_omits_credentials_header() -> None:
    decision = preflight(policy=build_policy(credentials=False))

    assert decision.allowed is True
    assert ACCESS_CONTROL_ALLOW_CREDENTIALS not in _names(decision)


@pytest.mark.parametrize("max_age", [0, 7200, 86400])
def test_decide_preflight_max_age_is_the_configured_value(max_age: int) -> None:
    decision = preflight(policy=build_policy(max_age=max_age))

    assert dict(decision.headers)[ACCESS_CONTROL_MAX_AGE] == str(max_age)


def test_policy_build_deduplicates_methods_keeping_order() -> None:
    policy = build_policy(allow_methods=["POST", "GET", "POST"])

    assert policy.allow_methods == frozenset({"GET", "POST"})
    assert dict(preflight(request_method="GET", policy=policy).headers)[ACCESS_CONTROL_ALLOW_METHODS] == "POST, GET"


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
    assert decision.status == 403
    assert decision.headers == ()
    assert decision.rule == "https://app.example.com"


def test_decide_preflight_listed_lowercase_method_is_allowed_exactly() -> None:
    policy = build_policy(allow_methods=["GET", "patch"])

    assert preflight(request_method="patch", policy=policy).allowed is True
    assert preflight(request_method="PATCH", policy=policy).reason is Reason.METHOD_NOT_ALLOWED


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
    assert decision.status == 403
    assert decision.headers == ()


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
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "accept"


def test_decide_preflight_request_headers_over_the_length_limit_are_refused() -> None:
    request_headers = "accept" + " " * (MAX_REQUEST_HEADERS_LENGTH + 1 - len("accept"))

    decision = preflight(request_headers=request_headers)

    assert decision.reason is Reason.REQUEST_HEADERS_TOO_LONG
    assert decision.status == 403
    assert decision.headers == ()


def test_decide_preflight_names_up_to_the_limit_are_echoed_once() -> None:
    policy = build_policy(allow_headers=["a"])

    decision = preflight(request_headers=",".join(["A"] * MAX_REQUEST_HEADER_NAMES), policy=policy)

    assert decision.allowed is True
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_HEADERS] == "a"


def test_decide_preflight_names_over_the_limit_are_refused_unread() -> None:
    policy = build_policy(allow_headers=["a"])

    decision = preflight(request_headers=",".join(["a"] * (MAX_REQUEST_HEADER_NAMES + 1)), policy=policy)

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
    ("https://app.example.com.", Reason.MALFORMED_ORIGIN),
    ("*", Reason.MALFORMED_ORIGIN),
    ("", Reason.MALFORMED_ORIGIN),
    ("file://", Reason.MALFORMED_ORIGIN),
    ("http://[zz]", Reason.MALFORMED_ORIGIN),
    ("https://preview.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("https://evilapp.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("https://app.example.com.evil.com", Reason.ORIGIN_NOT_ALLOWED),
    ("http://app.example.com", Reason.ORIGIN_NOT_ALLOWED),
    ("http://[::2]:8000", Reason.ORIGIN_NOT_ALLOWED),
]


@pytest.mark.parametrize(("origin", "reason"), HOSTILE_ORIGINS)
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_decide_hostile_origin_is_refused_without_headers(origin: str, reason: Reason, method: str) -> None:
    decision = decide(POLICY, method, origin, "GET" if method == "OPTIONS" else None, "content-type")

    assert decision.allowed is False
    assert decision.reason is reason
    assert decision.headers == ()
    assert decision.status == (403 if method == "OPTIONS" else None)


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


@settings(max_examples=800, deadline=None)
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
    policy = build_policy(credentials=credentials, expose_headers=["ETag"])

    decision = decide(policy, method, origin, request_method, request_headers)

    if not decision.allowed:
        assert decision.headers == ()
        return
    assert origin is not None
    assert policy.matcher.match(origin) is not None
    headers = dict(decision.headers)
    assert len(headers) == len(decision.headers)
    assert headers[ACCESS_CONTROL_ALLOW_ORIGIN] == origin
    assert origin not in ("*", "null")
    assert (ACCESS_CONTROL_ALLOW_CREDENTIALS in headers) is credentials
    for name, value in decision.headers:
        assert value.isascii()
        assert value.isprintable()
        if name == ACCESS_CONTROL_ALLOW_HEADERS:
            assert set(value.split(", ")) <= policy.allow_headers
            assert request_headers is not None
        elif name != ACCESS_CONTROL_ALLOW_ORIGIN:
            assert value in {"true", policy.allow_methods_value, policy.max_age_value, policy.expose_headers_value}
    if decision.kind is Kind.PREFLIGHT:
        assert request_method in policy.allow_methods


@settings(max_examples=500, deadline=None)
@given(refused=st.one_of(_joined(_ORIGIN_PIECES, 8), st.text(min_size=1, max_size=30)))
def test_decide_refused_input_never_appears_in_any_header(refused: str) -> None:
    # The same refused value offered in every slot a request controls.
    checks = [
        decide(POLICY, "GET", refused),
        decide(POLICY, "OPTIONS", refused, "PUT", "accept"),
        decide(POLICY, "OPTIONS", "https://app.example.com", refused, "accept"),
        decide(POLICY, "OPTIONS", "https://app.example.com", "PUT", refused),
        decide(POLICY, "OPTIONS", "https://app.example.com", "PUT", f"accept, {refused}"),
    ]
    for decision in checks:
        if decision.allowed:
            continue  # ``refused`` happened to be acceptable there
        for _, value in decision.headers:
            assert refused not in value
        assert decision.headers == ()


_WARM_POLICY = build_policy(expose_headers=["ETag"])


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["GET", "OPTIONS"]),
    origin=st.one_of(st.sampled_from(ORIGINS), _joined(_ORIGIN_PIECES, 6)),
    request_method=st.one_of(st.none(), _joined(_TOKEN_PIECES, 1)),
    request_headers=st.one_of(st.none(), _joined(_TOKEN_PIECES, 6)),
)
def test_decide_is_pure_so_a_warm_policy_answers_like_a_fresh_one(
    method: str, origin: str, request_method: str | None, request_headers: str | None
) -> None:
    # _WARM_POLICY has answered every earlier example; whatever it keeps
    # between calls must never change an answer.
    fresh = build_policy(expose_headers=["ETag"])

    first = decide(_WARM_POLICY, method, origin, request_method, request_headers)
    second = decide(_WARM_POLICY, method, origin, request_method, request_headers)

    assert first == second == decide(fresh, method, origin, request_method, request_headers)


def test_decide_many_distinct_origins_each_get_their_own_answer() -> None:
    policy = build_policy()
    origins = [f"https://pr-{index}.preview.example.com" for index in range(3000)]

    for _ in range(2):
        for index, origin in enumerate(origins):
            decision = decide(policy, "GET", origin)
            assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == origin
            refused = decide(policy, "GET", f"https://pr-{index}.evil.example.org")
            assert refused.headers == ()


def test_parse_request_headers_splits_trims_and_lowercases() -> None:
    assert parse_request_headers(" Accept,\tX-CSRFToken ,,content-type") == ["accept", "x-csrftoken", "content-type"]
    assert parse_request_headers("") == []
    assert parse_request_headers("accept, x y") is None


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
    }
    assert {kind.value for kind in Kind} == {"not-cors", "preflight", "actual"}


def test_decision_and_policy_are_immutable() -> None:
    decision = preflight()

    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        POLICY.credentials = False  # type: ignore[misc]
