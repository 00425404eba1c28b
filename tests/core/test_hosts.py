"""Hosts as browsers serialize them: the pieces of credcors.core.hosts that origins builds on."""

from __future__ import annotations

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from credcors.core import hosts
from credcors.core.hosts import (
    HostProblem,
    canonical_host,
    is_public_suffix,
    parse_authority,
    public_suffix_beneath,
    registrable_domain,
    spans_sites,
)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("app.example.com", ("app.example.com", None, False)),
        ("App.Example.com:443/", ("app.example.com", None, False)),
        ("k_.localhost:3000", ("k_.localhost", 3000, False)),
        ("*.-fc3.example.org:08443", ("-fc3.example.org", 8443, True)),
        ("[::1]", ("[::1]", None, False)),
        ("[::1]:443", ("[::1]", None, False)),
        ("[::1]:8000", ("[::1]", 8000, False)),
    ],
)
def test_parse_authority_canonicalizes_host_port_and_wildcard(
    rest: str, expected: tuple[str, int | None, bool]
) -> None:
    assert parse_authority(rest, "https", 443) == expected


@pytest.mark.parametrize(
    ("host", "wildcard", "canonical"),
    [
        ("My_App.Example.COM", False, "my_app.example.com"),
        ("-fc3.example.org", False, "-fc3.example.org"),
        ("bücher.example", False, "xn--bcher-kva.example"),
        ("localhost", True, "localhost"),
        ("127.0.0.1", False, "127.0.0.1"),
        ("[0:0::1]", False, "[::1]"),
    ],
)
def test_canonical_host_is_the_browsers_serialization(host: str, wildcard: bool, canonical: str) -> None:
    assert canonical_host(host, wildcard) == canonical


@pytest.mark.parametrize(
    ("host", "wildcard", "problem"),
    [
        ("", False, "it has no host"),
        ("com", True, "would cover a whole top-level domain"),
        ("a!b.example", False, "is not a valid host name"),
        ("a..b", False, "is not a valid host name"),
        ("example.com.", False, "ends with a dot"),
        ("[::1]", True, "a wildcard cannot apply to an IP address"),
        ("app.1", False, "ends in a number"),
    ],
)
def test_canonical_host_refusal_says_what_and_how(host: str, wildcard: bool, problem: str) -> None:
    with pytest.raises(HostProblem) as excinfo:
        canonical_host(host, wildcard)

    assert problem in excinfo.value.problem
    assert excinfo.value.hint
    assert str(excinfo.value) == f"{excinfo.value.problem}. {excinfo.value.hint}"


def test_non_canonical_punycode_is_refused_even_by_a_lenient_idna(monkeypatch: pytest.MonkeyPatch) -> None:
    # idna 3.20 refuses a "fake A-label" in ulabel() itself; older releases
    # that pyproject still accepts (idna>=3.7) decoded it, and then only the
    # re-encoding check in hosts._to_ascii stands between "xn---bbk" and an
    # allow-list entry no browser would ever send.
    def lenient_ulabel(label: str | bytes | bytearray) -> str:
        text = label.decode("ascii") if isinstance(label, (bytes, bytearray)) else label
        return text[4:].encode("ascii").decode("punycode") if text.startswith("xn--") else text

    monkeypatch.setattr(idna, "ulabel", lenient_ulabel)
    assert idna.alabel(lenient_ulabel("xn---bbk")) == b"xn--bbk"

    with pytest.raises(HostProblem, match="not in its canonical punycode form"):
        canonical_host("xn---bbk.example")
    assert canonical_host("xn--bbk.example") == "xn--bbk.example"


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("com", True),
        ("co.uk", True),
        ("vercel.app", True),
        ("github.io", True),
        ("unknown-tld", True),  # the PSL's implicit "*" rule
        ("localhost", False),  # *.localhost only ever resolves to loopback
        ("example.com", False),
        ("x.vercel.app", False),
    ],
)
def test_is_public_suffix_follows_the_public_suffix_list(host: str, public: bool) -> None:
    assert is_public_suffix(host) is public


@pytest.mark.parametrize(
    ("host", "beneath"),
    [
        ("amazonaws.com", "s3.amazonaws.com"),  # the private section counts
        ("fastly.net", "map.fastly.net"),
        ("co.uk", "adimo.co.uk"),  # a public suffix can have suffixes beneath it too
        ("jp", "ac.jp"),
        ("herokuapp.com", "compute.herokuapp.com"),  # *.compute.herokuapp.com: its root
        ("kobe.jp", "*.kobe.jp"),  # a wildcard rule's root
        ("example.com", None),
        ("s3.amazonaws.com", None),
        ("city.kobe.jp", None),
        ("vercel.app", None),  # a public suffix, with none beneath it
        ("localhost", None),
    ],
)
def test_public_suffix_beneath_names_the_shortest_suffix_under_a_host(host: str, beneath: str | None) -> None:
    assert public_suffix_beneath(host) == beneath


@pytest.mark.parametrize(
    ("host", "spans"),
    [
        ("amazonaws.com", True),
        ("github.io", True),
        ("com", True),
        ("kobe.jp", True),
        ("x.kobe.jp", True),  # *.kobe.jp makes it public
        ("city.kobe.jp", False),  # the exception: one owner's
        ("example.com", False),
        ("app.example.co.uk", False),
        ("localhost", False),
        ("app.localhost", False),
    ],
)
def test_spans_sites_says_whether_a_pattern_could_cover_another_owner(host: str, spans: bool) -> None:
    assert spans_sites(host) is spans


# The library on its own, which the tests below check credcors against.
_PSL = PublicSuffixList()


def test_the_rule_set_read_from_publicsuffixlist_has_the_shape_relied_on() -> None:
    # hosts._suffixes_beneath reads the library's private rule set: an
    # upgrade that renames or reshapes it must fail here, not for a user.
    rules = _PSL._publicsuffix

    assert isinstance(rules, frozenset)
    assert {"com", "s3.amazonaws.com", "*.compute.amazonaws.com", "*.kawasaki.jp", "!city.kawasaki.jp"} <= rules
    assert "xn--55qx5d.cn" in rules  # internationalized rules also in punycode, as canonical hosts are


# Names around the Public Suffix List: its rules' names and their parents,
# with labels in front, where a pattern's base is most likely to be wrong.
_RULE_NAMES = sorted({hosts._suffix_name(rule) for rule in _PSL._publicsuffix if rule.isascii() and "." in rule})
_NEAR_SUFFIX = st.sampled_from(_RULE_NAMES).flatmap(
    lambda name: st.integers(0, name.count(".")).map(lambda cut: name.split(".", cut)[-1])
)
_FRONT_LABELS = st.lists(st.sampled_from(["a", "www", "s3", "city", "compute", "x-1", "_dmarc"]), max_size=2)


@given(base=st.builds(lambda front, name: ".".join([*front, name]), _FRONT_LABELS, _NEAR_SUFFIX), front=_FRONT_LABELS)
def test_every_host_under_a_base_that_spans_no_sites_is_of_the_base_site(base: str, front: list[str]) -> None:
    # The reference: publicsuffixlist's own answer for each host, which
    # spans_sites must agree with for every host a pattern would grant.
    beneath = [name for name in _RULE_NAMES if name.endswith(f".{base}")]
    under = [".".join(["a", *front, base]), *(f"a.{name}" for name in beneath[:20])]
    site = registrable_domain(base)
    if spans_sites(base):
        assert is_public_suffix(base) or any(_PSL.privatesuffix(host) != site for host in under)
    else:
        assert _PSL.privatesuffix(base) == site
        assert all(_PSL.privatesuffix(host) == site for host in under)
