"""A cold load's columns compile into the very snapshot the row-by-row compile makes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from credcors.core.compile import RowColumns, RowIn, compile_columns, compile_rows, row_policies, served_rows
from credcors.core.config import parse_config
from credcors.core.decide import decide

NOW = 1_800_000_000.0
POOL = [
    "https://app.example.com",  # also in settings: the settings entry wins
    "https://a.example.net",
    "https://b.example.net",
    "https://c.example.net:8443",
    "http://localhost:3000",
    "http://plain.example.org",
    "https://*.pattern.example",
    "https://x.pattern.example",
    "https://xn--bcher-kva.example",
    "https://UPPER.example.net",
    "https://a.123",
    "not an origin",
    "https://bad\nline.example",
]
POLICIES = ["default", "partners", "ghost"]
#: Stored hosts (issue 24): every host, scopes, several, and one not canonical (its rows are invalid).
HOSTS = ["", "", "api.a.example", ".a.example", "api.a.example api.b.example", "Bad:1"]
REQUEST_HOSTS = [None, "api.a.example", "x.a.example", "api.b.example", "other.example"]
SETTINGS: list[dict[str, Any]] = [
    {"ALLOWED_ORIGINS": ["https://app.example.com"], "POLICIES": {"partners": {"ALLOWED_ORIGINS": []}}},
    {"TRUST_FOR_CSRF": True, "POLICIES": {"partners": {"ALLOW_CREDENTIALS": False}}},
    {
        "ALLOW_INSECURE_ORIGINS": True,
        "TRUST_FOR_CSRF": ["https://app.example.com"],
        "ALLOWED_ORIGINS": ["https://app.example.com"],
    },
    {"POLICIES": {"partners": {"USE_DATABASE": False}}},
    {"ALLOWED_ORIGINS": ["https://app.example.com"], "HOSTS": ["api.b.example"], "TRUST_FOR_CSRF": True},
]

ROWS = st.lists(
    st.tuples(
        st.sampled_from(POOL),
        st.sampled_from(POLICIES),
        st.booleans(),
        st.sampled_from([None, NOW - 60, NOW + 60, NOW + 3600]),
        st.sampled_from(HOSTS),
    ),
    max_size=25,
    unique_by=lambda row: (row[0], row[1]),
)


def _columns(rows: list[RowIn], policies: frozenset[str]) -> RowColumns:
    by_policy: dict[str, tuple[list[str], list[int], list[int]]] = {name: ([], [], []) for name in sorted(policies)}
    scoped: dict[str, tuple[list[str], list[int], list[str], list[int]]] = {}
    others: list[int] = []
    for origin, ident, policy, trust, _, *rest in rows:
        hosts = rest[0] if rest else ""
        if policy in by_policy and hosts:
            # As the reader splits them off: origins, ids, stored hosts, trust flags.
            scoped_origins, scoped_ids, scoped_hosts, scoped_trusts = scoped.setdefault(policy, ([], [], [], []))
            scoped_origins.append(origin)
            scoped_ids.append(ident)
            scoped_hosts.append(hosts)
            scoped_trusts.append(int(trust))
        elif policy in by_policy:
            origins, ids, trusts = by_policy[policy]
            origins.append(origin)
            ids.append(ident)
            trusts.append(int(trust))
        else:
            others.append(ident)
    expiries = {ident: expires.timestamp() for _, ident, _, _, expires, *_ in rows if expires is not None}
    for name, (origins, ids, trusts) in by_policy.items():
        if not any(trusts):
            by_policy[name] = (origins, ids, [])  # as the reader gives them when no row is trusted
    return RowColumns(by_policy, expiries, others, scoped)


@given(ROWS, st.sampled_from(range(len(SETTINGS))))
def test_columns_compile_to_the_snapshot_rows_compile_to(
    drawn: list[tuple[str, str, bool, float | None, str]], which: int
) -> None:
    config = parse_config(SETTINGS[which])
    rows: list[RowIn] = [
        (origin, ident, policy, trust, None if at is None else datetime.fromtimestamp(at, tz=timezone.utc), hosts)
        for ident, (origin, policy, trust, at, hosts) in enumerate(drawn, 1)
    ]

    expected, expected_invalid = compile_rows(config, rows, NOW)
    got, got_invalid = compile_columns(config, _columns(rows, row_policies(config)), NOW)

    assert got_invalid == expected_invalid
    assert served_rows(got) == served_rows(expected)
    assert got.next_expiry == expected.next_expiry
    for policy in ("default", "partners"):
        for origin in POOL:
            for host in REQUEST_HOSTS:
                want = decide(expected, "GET", origin, policy=policy, host=host)
                have = decide(got, "GET", origin, policy=policy, host=host)
                assert (have.allowed, have.source, have.headers) == (want.allowed, want.source, want.headers)
                assert got.trusts_for_csrf(origin, policy, host) == expected.trusts_for_csrf(origin, policy, host)


def test_the_usual_rows_are_packed_without_the_validator() -> None:
    # Canonical https rows take the packed road; the others are found for the validator.
    from credcors.core.compile import _needs_validator

    origins = ["https://a.example.com", "https://a.123", "http://x.example", "https://ok.example", "https://A.example"]

    assert _needs_validator(origins) == [1, 2, 4]
    assert _needs_validator([]) == []
    assert _needs_validator(["https://a.example", "https://b\nc.example"]) == [0, 1]


@given(
    st.lists(
        st.one_of(
            st.sampled_from(POOL),
            st.from_regex(r"https://[a-z0-9_.x-]{0,70}(:[0-9]{1,5})?", fullmatch=True),
            st.text(alphabet="htps:/.xn-a0\n", max_size=30),
            st.just("https://" + "a" * 250 + ".com"),
        ),
        max_size=12,
    )
)
def test_the_rows_set_aside_are_exactly_those_not_canonical(origins: list[str]) -> None:
    from credcors.core.compile import _needs_validator
    from credcors.core.origins import is_canonical_https

    expected = [n for n, origin in enumerate(origins) if not is_canonical_https(origin)]
    if any("\n" in origin for origin in origins):
        expected = list(range(len(origins)))  # every row then takes the validator

    assert _needs_validator(origins) == expected
