"""Facts of the Fetch standard and HTTP: tokens, methods, forbidden and safelisted headers, header lists."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credcors.core import fetch
from credcors.core.fetch import (
    FORBIDDEN_METHODS,
    NORMALIZED_METHODS,
    SAFELISTED_METHODS,
    SAFELISTED_REQUEST_HEADERS,
    is_forbidden_request_header,
    is_token,
    normalize_method,
    parse_request_headers,
)

# --- tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["GET", "patch", "X-Custom", "!#$%&'*+.^_`|~", "M" * 100, "0"])
def test_is_token_accepts_rfc_9110_tokens(value: str) -> None:
    assert is_token(value) is True


@pytest.mark.parametrize("value", ["", "GET POST", "a,b", "a:b", "a;b", "(x)", "PÜT", "a\tb", "GET\r\n", '"x"', "a/b"])
def test_is_token_refuses_separators_space_and_non_ascii(value: str) -> None:
    assert is_token(value) is False


# --- methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "normalized"),
    [
        ("get", "GET"),
        ("Post", "POST"),
        ("delete", "DELETE"),
        ("head", "HEAD"),
        ("options", "OPTIONS"),
        ("pUt", "PUT"),
        ("GET", "GET"),
        # Fetch §2.2.1: only the six are upper-cased, so "patch" stays "patch".
        ("patch", "patch"),
        ("Patch", "Patch"),
        ("PATCH", "PATCH"),
        ("propfind", "propfind"),
        ("", ""),
    ],
)
def test_normalize_method_upper_cases_only_the_six_standard_names(method: str, normalized: str) -> None:
    assert normalize_method(method) == normalized


def test_method_sets_are_the_fetch_standards() -> None:
    assert {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"} == NORMALIZED_METHODS
    assert {"CONNECT", "TRACE", "TRACK"} == FORBIDDEN_METHODS
    assert {"GET", "HEAD", "POST"} == SAFELISTED_METHODS
    assert SAFELISTED_METHODS <= NORMALIZED_METHODS
    assert not FORBIDDEN_METHODS & NORMALIZED_METHODS


# --- request headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "cookie",
        "origin",
        "host",
        "content-length",
        "access-control-request-headers",
        "access-control-request-method",
        "set-cookie",
        "dnt",
        "proxy-authorization",
        "proxy-",
        "sec-fetch-site",
        "sec-ch-ua",
        "sec-",
    ],
)
def test_is_forbidden_request_header_names_and_prefixes(name: str) -> None:
    assert is_forbidden_request_header(name) is True


@pytest.mark.parametrize(
    "name",
    ["accept", "authorization", "content-type", "x-csrftoken", "proxy", "sec", "secret", "x-sec-token", "cookies"],
)
def test_is_forbidden_request_header_leaves_what_scripts_may_set(name: str) -> None:
    assert is_forbidden_request_header(name) is False


def test_safelisted_request_headers_need_no_preflight_and_are_not_forbidden() -> None:
    assert {"accept", "accept-language", "content-language"} == SAFELISTED_REQUEST_HEADERS
    assert not any(is_forbidden_request_header(name) for name in SAFELISTED_REQUEST_HEADERS)


def test_response_header_names_are_lowercase_cors_names() -> None:
    names = [value for key, value in vars(fetch).items() if key.startswith("ACCESS_CONTROL_")]

    assert sorted(names) == [
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-max-age",
    ]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("", []),
        ("accept", ["accept"]),
        ("Accept,X-CSRFToken", ["accept", "x-csrftoken"]),
        (" Accept,\tX-CSRFToken ,,content-type", ["accept", "x-csrftoken", "content-type"]),
        (",,", []),
        (" , \t,", []),
        ("a,a,A", ["a", "a", "a"]),  # deduplication is the caller's business
        ("x-!#$%&'*+.^_`|~", ["x-!#$%&'*+.^_`|~"]),
        ("accept\t, \tcontent-type", ["accept", "content-type"]),
    ],
)
def test_parse_request_headers_splits_trims_and_lowercases(value: str, names: list[str]) -> None:
    assert parse_request_headers(value) == names


@pytest.mark.parametrize(
    "value",
    [
        "accept, x y",
        "content type",
        "a\tb",
        "accept; x",
        "a:b",
        "accept\r\nset-cookie: a=b",
        "x-ä",
        "(x)",
        '"accept"',
        "a/b",
        "a\x00",
    ],
)
def test_parse_request_headers_refuses_a_value_that_is_not_a_token_list(value: str) -> None:
    assert parse_request_headers(value) is None


# The plain per-name loop the two C-speed scans replaced.
_REFERENCE_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _reference_parse_request_headers(value: str) -> list[str] | None:
    names = []
    for part in value.split(","):
        name = part.strip(" \t")
        if not name:
            continue
        if _REFERENCE_TOKEN_RE.fullmatch(name) is None:
            return None
        names.append(name.lower())
    return names


_HEADER_TEXT = st.text(alphabet=st.sampled_from(list('aB-x_!,, \t\r\n;:"ü0')), max_size=30)
_HEADER_LIST = st.lists(
    st.sampled_from(["accept", "Content-Type", "x-csrftoken", "x-custom", " a ", "\tb", "", "c d", "é", "x:y", "\x0b"]),
    max_size=12,
).map(",".join)


@given(value=st.one_of(_HEADER_TEXT, _HEADER_LIST, st.text(max_size=20)))
def test_parse_request_headers_matches_the_reference(value: str) -> None:
    assert parse_request_headers(value) == _reference_parse_request_headers(value)


@pytest.mark.parametrize("value", [" , ", "a ,b", "a, b", "a\t,\tb"])
def test_reference_parser_itself_gets_the_obvious_cases_right(value: str) -> None:
    # Guards the oracle: whitespace around names is trimmed, never inside.
    assert _reference_parse_request_headers(value) == [name.strip(" \t") for name in value.split(",") if name.strip()]
    assert _reference_parse_request_headers("a b") is None
