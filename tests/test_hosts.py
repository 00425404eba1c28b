"""Hosts as browsers serialize them: the pieces of credcors.hosts that origins builds on."""

from __future__ import annotations

import idna
import pytest

from credcors.hosts import HostProblem, canonical_host, is_public_suffix, parse_authority


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
