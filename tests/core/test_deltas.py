"""A change applied to a snapshot decides like compiling every row again.

:func:`credcors.core.compile.apply_changes` makes the next snapshot from the
current one and the rows a change touched; the reference is
:func:`credcors.core.compile.compile_rows` over every enabled row, from scratch.
A table of rows is edited at random (rows added, deleted, disabled, moved to
another origin or policy, trusted for CSRF or not, given an expiry, made
invalid, shadowed by settings) while time passes, and after every step both
must give the same decisions, CSRF trust, row counts and next expiry, on
every request host (rows are scoped to hosts, issue 24).  Pure:
no database (the store's side is in tests/store/test_deltas_database.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credcors.core.compile import Compiled, RowIn, apply_changes, compile_rows, count_rows
from credcors.core.config import Config, parse_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Headers
from credcors.core.origins import ANY_PORT, Rule, parse_rule
from credcors.core.snapshot import Snapshot, compile_policy, compile_snapshot

APP = "https://app.example.com"  # in the default policy's settings: a row of it there is shadowed
PARTNER = "https://partner.example.net"  # in the partners policy's settings
PATTERN = "https://*.pattern.example.com"  # a valid pattern row
SETTINGS_PATTERN = "https://*.settings.example.com"

EXACT = (
    APP,
    PARTNER,
    "https://r1.example.com",
    "https://r2.example.com",
    "https://r3.example.com:8443",
    "https://[2001:db8::7]",
    "http://[::1]:8000",
    "http://localhost:8000",
    "http://plain.example.com",  # refused where credentials are allowed (the default policy)
    "https://R4.example.com",  # not canonical: invalid everywhere
    "https://r5.example.com/",  # not canonical either
    "*",
    "https://*.com",  # a pattern the validator refuses
)
POOL = (*EXACT, PATTERN)
#: ``public`` allows every origin and takes no rows; ``gone`` is configured nowhere: their rows are invalid.
POLICIES = ("default", "default", "partners", "writers", "public", "gone")
START = 1_000_000.0
#: Expiries, in seconds after START (``None``: never); -1 has passed before the first load.
EXPIRES = (None, None, None, -1.0, 3.0, 8.0, 20.0)
PROBES = (
    *(origin.lower().rstrip("/") for origin in POOL if "*" not in origin),
    "https://x.pattern.example.com",
    "https://x.settings.example.com",
    "https://unlisted.example.com",
    "http://localhost:9000",
)
#: Stored ``hosts`` values: every host, scopes (one, a leading-dot domain, several), and one not canonical.
INVALID_HOSTS = "API.a.example:1"
HOSTS = ("", "", "api.a.example", ".a.example", "api.a.example api.b.example", "api.b.example", INVALID_HOSTS)
#: Request hosts to decide on: unknown (None), covered by some scopes, by none.
REQUEST_HOSTS = (None, "api.a.example", "x.a.example", "a.example", "api.b.example", "other.example")

CONFIGS: dict[str, dict[str, Any]] = {
    "plain": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN]},
    "trust-all": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN], "TRUST_FOR_CSRF": True},
    "trust-listed": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN], "TRUST_FOR_CSRF": [APP]},
    # The default policy takes no rows: its rows are invalid, the partners' are not.
    "partners-only": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN], "USE_DATABASE": False},
    # Under DEBUG, an any-port settings grant beside rows on the same host.
    "debug": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN, "http://localhost:*"], "TRUST_FOR_CSRF": True},
    # The default policy's settings origins apply on customer A's hosts alone.
    "scoped-settings": {"ALLOWED_ORIGINS": [APP, SETTINGS_PATTERN], "HOSTS": [".a.example"], "TRUST_FOR_CSRF": True},
}
POLICY_SETTINGS: dict[str, Any] = {
    "partners": {"ALLOWED_ORIGINS": [PARTNER], "USE_DATABASE": True},
    # Credentialed, so that its rows' CSRF trust is compared too.
    "writers": {"USE_DATABASE": True, "ALLOW_CREDENTIALS": True},
    "public": {"ALLOW_ALL_ORIGINS": True, "USE_DATABASE": True, "ALLOW_CREDENTIALS": False},
}


def _config(name: str) -> Config:
    config = parse_config({**CONFIGS[name], "POLICIES": POLICY_SETTINGS}, debug=name == "debug")
    assert config.problems == ()
    return config


class Stored(NamedTuple):
    """One row of the table as stored."""

    origin: str
    policy: str
    trust: bool
    expires: float | None
    enabled: bool
    hosts: str = ""


Table = dict[int, Stored]


def _read(table: Table, ids: object = None) -> list[RowIn]:
    """The enabled rows (of ``ids``, when given), by id, as the loader reads them."""
    return [
        (row.origin, pk, row.policy, row.trust, _when(row.expires), row.hosts)
        for pk, row in sorted(table.items())
        if row.enabled and (ids is None or pk in ids)  # type: ignore[operator]
    ]


def _when(offset: float | None) -> datetime | None:
    return None if offset is None else datetime.fromtimestamp(START + offset, tz=timezone.utc)


Op = tuple[Any, ...]


def _ops(pool: tuple[str, ...]) -> st.SearchStrategy[Op]:
    index = st.integers(0, 30)
    return st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from(pool),
            st.sampled_from(POLICIES),
            st.booleans(),
            st.sampled_from(EXPIRES),
            st.integers(0, 4).map(bool),
            st.sampled_from(HOSTS),
        ),
        st.tuples(st.just("hosts"), index, st.sampled_from(HOSTS)),
        st.tuples(st.just("delete"), index),
        st.tuples(st.just("toggle"), index),
        st.tuples(st.just("origin"), index, st.sampled_from(pool)),
        st.tuples(st.just("policy"), index, st.sampled_from(POLICIES)),
        st.tuples(st.just("trust"), index),
        st.tuples(st.just("expiry"), index, st.sampled_from(EXPIRES)),
    )


def _edit(table: Table, op: Op, next_pk: int) -> int | None:
    """Apply ``op`` as the database would (``origin`` is unique); the id it touched, or ``None``."""
    kind = op[0]
    taken = {row.origin for row in table.values()}
    if kind == "add":
        _, origin, policy, trust, expires, enabled, hosts = op
        if origin in taken:
            return None  # the unique constraint refuses it
        table[next_pk] = Stored(origin, policy, trust, expires, enabled, hosts)
        return next_pk
    if not table:
        return None
    pk: int = sorted(table)[op[1] % len(table)]
    row = table[pk]
    if kind == "delete":
        del table[pk]
    elif kind == "toggle":
        table[pk] = row._replace(enabled=not row.enabled)
    elif kind == "origin":
        if op[2] in taken:
            return None
        table[pk] = row._replace(origin=op[2])
    elif kind == "policy":
        table[pk] = row._replace(policy=op[2])
    elif kind == "hosts":
        table[pk] = row._replace(hosts=op[2])
    elif kind == "trust":
        table[pk] = row._replace(trust=not row.trust)
    else:
        table[pk] = row._replace(expires=op[2])
    return pk


def _view(snapshot: Snapshot) -> dict[str, object]:
    """Everything requests and tools see of a snapshot."""
    decisions = {
        (policy, origin, method, host): decide(
            snapshot, method, origin, "PUT" if method == "OPTIONS" else None, None, policy, host
        )
        for policy in (*POLICIES, "unknown")
        for origin in PROBES
        for method in ("GET", "OPTIONS")
        for host in REQUEST_HOSTS
    }
    return {
        "decisions": decisions,
        "csrf": {
            (policy, origin, host): snapshot.trusts_for_csrf(origin, policy, host)
            for policy in (*POLICIES, "unknown")
            for origin in PROBES
            for host in REQUEST_HOSTS
        },
        "scopes": {
            name: {scope: sorted(g.origin for g in index) for scope, index in policy.scoped.items()}
            for name, policy in snapshot.policies.items()
        },
        "rows": snapshot.rows,
        "policy rows": {name: policy.rows for name, policy in snapshot.policies.items()},
        "next expiry": snapshot.next_expiry,
        "grants": sorted(
            (g.origin, -1 if g.source is None else g.source, g.csrf, g.expires or 0.0) for g in snapshot.default.index
        ),
        "settings rules": tuple(grant.rule for grant in snapshot.default.index if grant.source is None),
    }


def _active_pattern(row: Stored | None, now: float, taking: set[str]) -> bool:
    # A pattern row a snapshot holds at ``now``: valid (its hosts too), enabled, of a policy that takes rows, unexpired.
    return (
        row is not None
        and row.enabled
        and row.origin == PATTERN
        and row.hosts != INVALID_HOSTS
        and row.policy in taking
        and (row.expires is None or START + row.expires > now)
    )


Step = tuple[list[Op], float]


def _steps(pool: tuple[str, ...]) -> st.SearchStrategy[list[Step]]:
    step = st.tuples(st.lists(_ops(pool), min_size=1, max_size=4), st.sampled_from([0.0, 0.0, 2.0, 5.0, 10.0]))
    return st.lists(step, min_size=1, max_size=6)


def _run(config_name: str, initial: list[Op], steps: list[Step]) -> int:
    """Apply ``steps`` both ways, checking each; how many changes fell back to compiling everything."""
    config = _config(config_name)
    taking = {name for name in config.policy_names if config.takes_rows(name)}
    table: Table = {}
    next_pk = 1
    for op in initial:
        if _edit(table, op, next_pk) == next_pk:
            next_pk += 1
    now = START
    current: Compiled = compile_rows(config, _read(table), now)
    fallbacks = 0
    for ops, elapsed in steps:
        before = dict(table)
        ids: set[int] = set()
        for op in ops:
            touched = _edit(table, op, next_pk)
            if touched is not None:
                ids.add(touched)
                next_pk = max(next_pk, touched + 1)
        now += elapsed
        # As the store does: expired grants leave the snapshot before a change is applied.
        snapshot, invalid = current
        snapshot = snapshot.without_expired(now)
        full = compile_rows(config, _read(table), now)
        applied = apply_changes(config, (snapshot, invalid), frozenset(ids), _read(table, ids), now)
        involved = any(
            _active_pattern(before.get(pk), now, taking) or _active_pattern(table.get(pk), now, taking) for pk in ids
        )
        if applied is None:
            assert involved, "only a change that involves a pattern row compiles everything"
            fallbacks += 1
            current = full
            continue
        assert not involved
        assert _view(applied[0]) == _view(full[0])
        # An invalid row whose expiry has passed may still be counted (a
        # poll that finds nothing changed keeps counting it too, until a
        # change or a full read names it); every other id must match.
        expired = {
            pk for pk, row in table.items() if row.enabled and row.expires is not None and START + row.expires <= now
        }
        assert applied[1] - expired == full[1]
        assert full[1] <= applied[1]
        assert count_rows(applied) - len(applied[1] & expired) == count_rows(full)
        current = applied
    return fallbacks


@given(
    st.sampled_from(sorted(CONFIGS)),
    st.lists(_ops(EXACT), max_size=10),
    _steps(EXACT),
)
def test_exact_row_changes_applied_decide_like_compiling_every_row(
    config_name: str, initial: list[Op], steps: list[Step]
) -> None:
    assert _run(config_name, initial, steps) == 0


@given(
    st.sampled_from(sorted(CONFIGS)),
    st.lists(_ops(POOL), max_size=10),
    _steps(POOL),
)
def test_changes_with_pattern_rows_fall_back_or_decide_alike(
    config_name: str, initial: list[Op], steps: list[Step]
) -> None:
    _run(config_name, initial, steps)


# --- Examples the properties above rely on --------------------------------------------


def _row(
    pk: int, origin: str, policy: str = "default", trust: bool = False, expires: float | None = None, hosts: str = ""
) -> RowIn:
    return (origin, pk, policy, trust, _when(expires), hosts)


def test_one_row_added_changed_and_deleted_is_served_as_compiled() -> None:
    config = _config("trust-listed")
    first = compile_rows(config, [_row(1, "https://r1.example.com")], START)

    added = apply_changes(config, first, {2}, [_row(2, "https://r2.example.com", trust=True, expires=5.0)], START)
    assert added is not None
    assert decide(added[0], "GET", "https://r2.example.com").source == 2
    assert added[0].trusts_for_csrf("https://r2.example.com", DEFAULT_POLICY)
    assert not added[0].trusts_for_csrf("https://r1.example.com", DEFAULT_POLICY)
    assert added[0].next_expiry == START + 5.0
    assert added[0].rows == 2

    moved = apply_changes(config, added, {2}, [_row(2, "https://r3.example.com:8443", "partners")], START)
    assert moved is not None
    assert not decide(moved[0], "GET", "https://r2.example.com").allowed
    assert decide(moved[0], "GET", "https://r3.example.com:8443", policy="partners").source == 2
    assert moved[0].next_expiry is None
    assert (moved[0].default.rows, moved[0].policies["partners"].rows) == (1, 1)

    deleted = apply_changes(config, moved, {1, 2}, [], START)
    assert deleted is not None
    assert (deleted[0].rows, deleted[0].policies["partners"].rows) == (0, 0)
    assert count_rows(deleted) == 0
    assert first[0].rows == 1  # the snapshots a change starts from stay as they were


def test_invalid_row_is_counted_then_fixed_then_deleted() -> None:
    config = _config("plain")
    loaded = compile_rows(config, [], START)

    invalid = apply_changes(config, loaded, {7}, [_row(7, "https://R4.example.com")], START)
    assert invalid is not None
    assert invalid[1] == {7}
    assert count_rows(invalid) == 1
    fixed = apply_changes(config, invalid, {7}, [_row(7, "https://r4.example.com")], START)
    assert fixed is not None
    assert fixed[1] == frozenset()
    assert decide(fixed[0], "GET", "https://r4.example.com").source == 7
    gone = apply_changes(config, fixed, {7}, [], START)
    assert gone is not None
    assert count_rows(gone) == 0


def test_row_expired_when_the_change_is_applied_is_left_out() -> None:
    config = _config("plain")
    loaded = compile_rows(config, [], START)

    changed = apply_changes(config, loaded, {3}, [_row(3, "https://r1.example.com", expires=-1.0)], START)

    assert changed is not None
    assert not decide(changed[0], "GET", "https://r1.example.com").allowed
    assert count_rows(changed) == 0


@pytest.mark.parametrize(
    ("rows", "ids", "now_rows"),
    [
        pytest.param([], {9}, [_row(9, PATTERN)], id="pattern added"),
        pytest.param([_row(9, PATTERN, "partners")], {9}, [], id="pattern row deleted"),
        pytest.param([_row(9, PATTERN)], {9}, [_row(9, "https://r1.example.com")], id="pattern made exact"),
        pytest.param([_row(9, "https://r1.example.com")], {9}, [_row(9, PATTERN)], id="exact made pattern"),
    ],
)
def test_change_involving_a_pattern_row_compiles_everything(
    rows: list[RowIn], ids: set[int], now_rows: list[RowIn]
) -> None:
    config = _config("plain")

    assert apply_changes(config, compile_rows(config, rows, START), ids, now_rows, START) is None


def test_settings_pattern_and_invalid_pattern_rows_do_not_force_a_full_compile() -> None:
    config = _config("plain")
    loaded = compile_rows(config, [_row(1, SETTINGS_PATTERN), _row(2, "https://*.com")], START)

    changed = apply_changes(config, loaded, {1, 2}, [], START)

    assert changed is not None  # row 1 was shadowed by settings, row 2 invalid: no pattern grant of a row
    assert decide(changed[0], "GET", "https://x.settings.example.com").source is None


HEADERS = Headers.build(allow_methods=["GET"], allow_headers=[])


def test_any_port_row_makes_changed_compile_everything() -> None:
    # The validator never lets a row take any port; the snapshot refuses it all the same.
    any_port = Rule("http", "localhost", ANY_PORT)
    snapshot = compile_snapshot(
        [compile_policy(DEFAULT_POLICY, HEADERS, [], [(any_port, "http://localhost:*", 4, None)])]
    )

    assert snapshot.rows == 1
    assert not snapshot.trusts_for_csrf("http://localhost:*", DEFAULT_POLICY)
    assert snapshot.changed({4}, []) is None
    assert snapshot.changed((), [(DEFAULT_POLICY, (any_port, "http://localhost:*", 5, None), False)]) is None


def test_changed_keeps_allow_all_policies_and_builds_an_empty_policy_its_first_row() -> None:
    public = compile_policy("public", HEADERS, allow_all=True)
    partners = compile_policy("partners", HEADERS, [parse_rule(PARTNER)])
    snapshot = compile_snapshot([compile_policy(DEFAULT_POLICY, HEADERS, [parse_rule(APP)]), public, partners])
    rule = parse_rule("https://r1.example.com")

    changed = snapshot.changed({1}, [("partners", (rule, rule.serialize(), 1, None), True)])

    assert changed is not None
    assert changed.policies["public"] is public
    assert decide(changed, "GET", "https://r1.example.com", policy="partners").source == 1
    assert changed.trusts_for_csrf("https://r1.example.com", "partners")
    assert not changed.trusts_for_csrf("https://r1.example.com", DEFAULT_POLICY)
    assert (changed.default.rows, changed.policies["partners"].rows) == (0, 1)
    assert changed.next_expiry is None
