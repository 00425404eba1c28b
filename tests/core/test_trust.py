"""A row's effective CSRF trust and why: the rule staff see, held to what the snapshot compiles."""

from __future__ import annotations

from typing import Any

import pytest

from credcors.core.compile import apply_changes, compile_rows, compile_settings
from credcors.core.config import parse_config
from credcors.core.trust import TrustReason, policy_trust, row_trust, settings_trust

SETTINGS = ["https://app.example.com", "https://listed.example.com"]
POLICIES = {
    "partners": {
        "ALLOWED_ORIGINS": ["https://partner.example.net"],
        "ALLOW_CREDENTIALS": True,
        "USE_DATABASE": True,
    },
    "readers": {"USE_DATABASE": True},  # A named policy sends no credentials unless it says so.
    "public": {"ALLOW_ALL_ORIGINS": True},
}
TRUST_SETTINGS: list[Any] = [False, True, ["https://listed.example.com", "https://partner.example.net"]]

#: (origin, policy, ticked): rows of every kind the rule tells apart.
ROWS = [
    (origin, policy, ticked)
    for origin in (
        "https://app.example.com",  # shadowed by the default policy's settings entry
        "https://listed.example.com",
        "https://partner.example.net",  # shadowed in "partners"
        "https://row.example.org",
        "https://*.example.org",
    )
    for policy in ("default", "partners", "readers", "public", "gone")
    for ticked in (False, True)
]


def _config(trust: object, credentials: bool = True) -> Any:
    return parse_config(
        {
            "ALLOWED_ORIGINS": SETTINGS,
            "ALLOW_CREDENTIALS": credentials,
            "TRUST_FOR_CSRF": trust,
            "POLICIES": POLICIES,
        }
    )


@pytest.mark.parametrize("trust", TRUST_SETTINGS)
@pytest.mark.parametrize("credentials", [True, False])
def test_row_trust_is_what_the_snapshot_compiles_for_every_row_in_force(trust: object, credentials: bool) -> None:
    config = _config(trust, credentials)
    # Origins are unique among rows: one compile per policy and box.
    for policy in ("default", "partners", "readers", "public", "gone"):
        for ticked in (False, True):
            rows = [
                (origin, pk, policy, ticked, None)
                for pk, (origin, name, tick) in enumerate(ROWS)
                if name == policy and tick is ticked
            ]
            snapshot, _ = compile_rows(config, rows)
            for origin, _pk, _policy, _, _ in rows:
                expected = snapshot.trusts_for_csrf(origin, policy)
                assert row_trust(config, origin, policy, ticked).trusted is expected, (origin, policy, ticked)


@pytest.mark.parametrize("trust", TRUST_SETTINGS)
def test_row_trust_is_what_a_change_applies(trust: object) -> None:
    config = _config(trust)
    compiled = compile_rows(config, [])
    rows = [
        ("https://row.example.org", 1, "default", False, None),
        ("https://two.example.org", 2, "partners", True, None),
    ]

    changed = apply_changes(config, compiled, [1, 2], rows)

    assert changed is not None
    for origin, _, policy, ticked, _ in rows:
        assert row_trust(config, origin, policy, ticked).trusted is changed[0].trusts_for_csrf(origin, policy)


def test_trust_for_csrf_true_trusts_every_exact_row_of_the_default_policy_ticked_or_not() -> None:
    config = _config(True)

    assert row_trust(config, "https://row.example.org", "default", False) == (True, TrustReason.POLICY)
    assert row_trust(config, "https://row.example.org", "default", True) == (True, TrustReason.POLICY)
    # Not a named policy's rows: those still need their box.
    assert row_trust(config, "https://row.example.org", "partners", False) == (False, TrustReason.NOT_TICKED)
    assert row_trust(config, "https://row.example.org", "partners", True) == (True, TrustReason.TICKED)


def test_a_pattern_row_is_never_trusted() -> None:
    for trust in TRUST_SETTINGS:
        for ticked in (False, True):
            assert row_trust(_config(trust), "https://*.example.org", "default", ticked) == (
                False,
                TrustReason.PATTERN,
            )


def test_a_policy_without_credentials_or_rows_trusts_nobody() -> None:
    config = _config(True)

    assert row_trust(config, "https://row.example.org", "readers", True) == (False, TrustReason.NO_CREDENTIALS)
    assert row_trust(config, "https://row.example.org", "public", True) == (False, TrustReason.TAKES_NO_ROWS)
    assert row_trust(config, "https://row.example.org", "gone", True) == (False, TrustReason.NO_POLICY)
    assert row_trust(_config(True, credentials=False), "https://row.example.org", "default", True) == (
        False,
        TrustReason.NO_CREDENTIALS,
    )


def test_a_settings_entry_of_the_same_origin_decides() -> None:
    listed = _config(["https://listed.example.com"])

    assert row_trust(listed, "https://app.example.com", "default", True) == (False, TrustReason.SETTINGS_UNTRUSTED)
    assert row_trust(listed, "https://listed.example.com", "default", False) == (True, TrustReason.SETTINGS_TRUSTED)
    # The settings entry shadows a row only in its own policy.
    assert row_trust(listed, "https://app.example.com", "partners", True) == (True, TrustReason.TICKED)


def test_policy_trust_names_the_settings_entries_that_shadow_rows() -> None:
    facts = policy_trust(_config(True), "default")

    assert facts.rows
    assert facts.every_row
    assert dict(facts.settings) == {"https://app.example.com": True, "https://listed.example.com": True}
    assert not policy_trust(_config(True), "partners").every_row


def test_row_trust_says_why_in_words() -> None:
    trust = row_trust(_config(True), "https://row.example.org", "default", False)

    assert trust.label == "yes (by TRUST_FOR_CSRF)"
    assert trust.sentence == (
        "trusted for CSRF: CREDCORS['TRUST_FOR_CSRF'] is True, which trusts every exact row of the default policy, "
        "ticked or not"
    )
    assert row_trust(_config(False), "https://*.example.org", "default", False).label == "no (a pattern: never)"


@pytest.mark.parametrize("trust", TRUST_SETTINGS)
@pytest.mark.parametrize("credentials", [True, False])
def test_settings_trust_is_what_the_snapshot_compiles_for_every_settings_entry(
    trust: object, credentials: bool
) -> None:
    config = _config(trust, credentials)
    snapshot = compile_settings(config)

    for name in config.policy_names:
        policy = config.policy(name)
        assert policy is not None
        for rule in policy.rules:
            origin = rule.serialize()
            assert settings_trust(config, origin, name).trusted is snapshot.trusts_for_csrf(origin, name), (
                origin,
                name,
            )


def test_a_settings_entry_of_a_policy_that_is_not_configured_is_not_trusted() -> None:
    config = parse_config({"TRUST_FOR_CSRF": True, "ALLOWED_ORIGINS": ["https://app.example.com"]})

    assert settings_trust(config, "https://app.example.com", "gone") == (False, TrustReason.NO_POLICY)
