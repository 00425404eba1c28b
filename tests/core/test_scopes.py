"""Host scopes (issue 24): entries spelled as ALLOWED_HOSTS spells them, and the entries that cover a host."""

from __future__ import annotations

import pytest
from django.http.request import validate_host
from hypothesis import given
from hypothesis import strategies as st

from credcors.core.config import parse_config
from credcors.core.scopes import (
    MAX_SCOPE_ENTRIES,
    ScopeError,
    canonical_scope,
    covers,
    join_scopes,
    parse_scopes,
    scope_keys,
    split_scopes,
)


@pytest.mark.parametrize(
    ("entry", "canonical"),
    [
        ("API.Customer-A.com", "api.customer-a.com"),
        (" .Customer-A.com ", ".customer-a.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("[0:0::1]", "[::1]"),
        ("localhost", "localhost"),
    ],
)
def test_an_entry_is_canonical(entry: str, canonical: str) -> None:
    assert canonical_scope(entry) == canonical


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (3, "must be a string"),
        ("", "is empty"),
        ("https://api.example.com", "is a URL or an origin"),
        ("api.example.com/v1", "is a URL or an origin"),
        ("*", "is a wildcard"),
        ("*.example.com", "is a wildcard"),
        ("api.example.com:8443", "has a port"),
        ("[::1]:8000", "has a port or is not a bracketed IPv6"),
        (".[::1]", "is not a domain"),
        (".", "is not a domain"),
        (".127.0.0.1", "is an IP address"),
        ("bad_host!.com", "is not a valid host name"),
        ("a.123", "ends in a number"),
    ],
)
def test_an_invalid_entry_says_what_is_wrong_and_what_to_write(entry: object, says: str) -> None:
    with pytest.raises(ScopeError) as caught:
        canonical_scope(entry)
    assert says in caught.value.message
    assert caught.value.hint


def test_entries_parse_from_a_string_or_a_list_sorted_and_once() -> None:
    assert parse_scopes("b.example, a.example\n.c.example a.example") == (".c.example", "a.example", "b.example")
    assert parse_scopes(["B.example", "a.example"]) == ("a.example", "b.example")
    assert parse_scopes("") == parse_scopes([]) == ()
    assert join_scopes(("b.example", "a.example", "a.example")) == "a.example b.example"
    assert split_scopes("a.example b.example") == ("a.example", "b.example")
    assert split_scopes("") == ()


def test_more_entries_than_the_bound_are_refused() -> None:
    many = [f"h{n}.example.com" for n in range(MAX_SCOPE_ENTRIES + 1)]
    with pytest.raises(ScopeError, match="more than"):
        parse_scopes(many)
    assert len(parse_scopes(many[:-1])) == MAX_SCOPE_ENTRIES


def test_the_keys_of_a_host_are_itself_then_each_domain_above_it() -> None:
    assert list(scope_keys("a.b.example.com")) == [
        "a.b.example.com",
        ".a.b.example.com",
        ".b.example.com",
        ".example.com",
        ".com",
    ]
    assert list(scope_keys("a.example.com", dotted=False)) == ["a.example.com"]
    assert list(scope_keys("[::1]")) == ["[::1]"]


LABELS = st.sampled_from(["a", "b", "api", "customer-a", "example", "com"])
HOSTNAMES = st.lists(LABELS, min_size=1, max_size=4).map(".".join)


@given(HOSTNAMES, st.booleans(), HOSTNAMES)
def test_an_entry_covers_a_host_exactly_when_allowed_hosts_would_match_it(name: str, dotted: bool, host: str) -> None:
    scope = f".{name}" if dotted else name
    assert covers(scope, host) is validate_host(host, [scope])
    # And the host's keys hold the entry exactly then: what a lookup tries.
    assert (scope in set(scope_keys(host))) is covers(scope, host)


def test_settings_hosts_are_validated_and_fail_closed() -> None:
    good = parse_config({"ALLOWED_ORIGINS": ["https://app.example.com"], "HOSTS": ["API.example.com", ".b.example"]})
    assert good.problems == ()
    assert good.default_policy.hosts == (".b.example", "api.example.com")
    assert parse_config({}).default_policy.hosts is None

    for value, says in (
        ("api.example.com", "must be a list of hosts"),
        ([], "is empty"),
        (["api.example.com:443", "ok.example"], "has a port"),
    ):
        config = parse_config({"HOSTS": value})
        [problem] = config.problems
        assert problem.id == "credcors.E029"
        assert says in problem.msg
        assert 'CREDCORS["HOSTS"]' in problem.msg
        assert config.default_policy.hosts is not None  # Never every host.
    assert parse_config({"HOSTS": ["api.example.com:443", "ok.example"]}).default_policy.hosts == ("ok.example",)


def test_a_named_policy_takes_hosts_of_its_own_and_does_not_inherit_them() -> None:
    config = parse_config(
        {
            "HOSTS": ["api.example.com"],
            "POLICIES": {"partners": {"USE_DATABASE": True}, "tenant": {"HOSTS": ["*"]}},
        }
    )
    assert config.policy("partners").hosts is None  # type: ignore[union-attr]
    [problem] = config.problems
    assert problem.id == "credcors.E029"
    assert """CREDCORS["POLICIES"]['tenant']["HOSTS"]""" in problem.msg
    assert config.policy("tenant").hosts == ()  # type: ignore[union-attr]
