"""Named policies in the pure core: settings validated into policies, policies compiled and decided."""

from __future__ import annotations

from typing import Any

import pytest

from credcors.core.config import parse_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Headers, Reason
from credcors.core.fetch import ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN
from credcors.core.origins import parse_rule
from credcors.core.snapshot import ANY_ORIGIN, compile_policy, compile_snapshot

APP = "https://app.example.com"
PARTNER = "https://partner.example.net"
STRANGER = "https://stranger.example.org"

CONTRACT: dict[str, Any] = {
    "ALLOWED_ORIGINS": [APP],
    "ALLOW_METHODS": ["GET", "POST"],
    "EXPOSE_HEADERS": ["x-request-id"],
    "PREFLIGHT_MAX_AGE": 120,
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False, "ALLOW_METHODS": ["GET", "HEAD"]},
        "partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": False},
    },
}


def _ids(raw: Any) -> list[str]:
    return [problem.id for problem in parse_config(raw).problems]


def _problem(raw: Any, check_id: str) -> str:
    found = [problem for problem in parse_config(raw).problems if problem.id == check_id]
    assert len(found) == 1, parse_config(raw).problems
    return f"{found[0].msg} {found[0].hint}"


# --- conf ---------------------------------------------------------------------------------


def test_contract_settings_parse_without_problems() -> None:
    config = parse_config(CONTRACT)

    assert config.problems == ()
    assert config.policy_names == ("default", "public", "partners")
    assert config.policies["public"].allow_all is True
    assert config.policies["partners"].rules == (parse_rule(PARTNER),)


def test_named_policy_inherits_response_keys_but_not_who_may_call() -> None:
    partners = parse_config(CONTRACT).policies["partners"]

    # Inherited from the default policy: how an allowed response looks.
    assert partners.allow_methods == ("GET", "POST")
    assert partners.expose_headers == ("x-request-id",)
    assert partners.max_age == 120
    # Never inherited: who may call, and credentials.
    assert partners.credentials is False
    assert partners.use_database is False
    assert parse_rule(APP) not in partners.rules


def test_named_policy_without_credentials_key_has_none() -> None:
    config = parse_config({"ALLOWED_ORIGINS": [APP], "POLICIES": {"partners": {"ALLOWED_ORIGINS": [PARTNER]}}})

    assert config.policies["partners"].credentials is False
    assert config.default_policy.credentials is True


def test_named_policy_keys_override_the_default() -> None:
    raw = {
        "POLICIES": {
            "p": {
                "ALLOW_HEADERS": ["x-partner"],
                "EXPOSE_HEADERS": ["x-partner-id"],
                "PREFLIGHT_MAX_AGE": 5,
                "USE_DATABASE": True,
                "ALLOW_CREDENTIALS": True,
                "ALLOWED_ORIGINS": [PARTNER],
            }
        }
    }
    policy = parse_config(raw).policies["p"]

    assert (policy.allow_headers, policy.expose_headers, policy.max_age) == (("x-partner",), ("x-partner-id",), 5)
    assert policy.use_database is True
    assert policy.credentials is True


def test_policy_key_typo_is_e018_with_did_you_mean() -> None:
    text = _problem({"POLICIES": {"public": {"ALLOW_ALL_ORIGIN": True}}}, "credcors.E018")

    assert "'ALLOW_ALL_ORIGIN'" in text
    assert "CREDCORS[\"POLICIES\"]['public']" in text
    assert "Did you mean 'ALLOW_ALL_ORIGINS'?" in text


def test_top_level_key_inside_a_policy_is_e018_without_a_guess() -> None:
    text = _problem({"POLICIES": {"public": {"CACHE_ALIAS": "default"}}}, "credcors.E018")

    assert "Did you mean" not in text
    assert "stay at the top level" in text


def test_allow_all_origins_with_credentials_is_e019_and_allows_nobody() -> None:
    raw = {"POLICIES": {"open": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": True}}}

    text = _problem(raw, "credcors.E019")
    policy = parse_config(raw).policies["open"]

    assert 'CREDCORS["POLICIES"][\'open\']["ALLOW_ALL_ORIGINS"]' in text
    assert 'ALLOW_CREDENTIALS"] = False' in text
    assert policy.allow_all is False
    assert policy.rules == ()


def test_default_policy_cannot_allow_all_origins() -> None:
    text = _problem({"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}, "credcors.E019")

    assert 'CREDCORS["ALLOW_ALL_ORIGINS"]' in text
    assert "credcors.E002" not in _ids({"ALLOW_ALL_ORIGINS": True})


@pytest.mark.parametrize(
    ("policies", "needle"),
    [
        (["public"], "must be a dict of policy name"),
        ({"default": {}}, 'the top-level keys of CREDCORS are the policy "default"'),
        ({"has space": {}}, "1 to 64 letters"),
        ({"x" * 65: {}}, "1 to 64 letters"),
        ({7: {}}, "1 to 64 letters"),
        ({"public": ["ALLOW_ALL_ORIGINS"]}, "must be a dict of settings, not list"),
    ],
)
def test_malformed_policies_are_e017_and_left_out(policies: Any, needle: str) -> None:
    config = parse_config({"POLICIES": policies})

    assert needle in _problem({"POLICIES": policies}, "credcors.E017")
    assert list(config.policies) == [DEFAULT_POLICY]


@pytest.mark.parametrize(
    ("body", "check_id", "needle"),
    [
        ({"ALLOWED_ORIGINS": "https://partner.example.net"}, "credcors.E003", "must be a list of strings"),
        ({"ALLOW_CREDENTIALS": "no"}, "credcors.E015", "must be True or False"),
        ({"PREFLIGHT_MAX_AGE": -1}, "credcors.E008", "from 0 to 86400"),
        ({"ALLOWED_ORIGINS": ["partner.example.net"]}, "credcors.E004", "it has no scheme"),
        ({"ALLOW_METHODS": ["TRACE"]}, "credcors.E005", "never send cross-origin"),
    ],
)
def test_policy_entries_are_validated_under_the_policy_name(body: dict[str, Any], check_id: str, needle: str) -> None:
    text = _problem({"POLICIES": {"p": body}}, check_id)

    assert needle in text
    assert "CREDCORS[\"POLICIES\"]['p']" in text


def test_invalid_policy_values_fall_back_to_refusing() -> None:
    raw = {"POLICIES": {"p": {"ALLOWED_ORIGINS": "x", "ALLOW_ALL_ORIGINS": "yes", "PREFLIGHT_MAX_AGE": None}}}
    policy = parse_config(raw).policies["p"]

    assert (policy.rules, policy.allow_all, policy.credentials, policy.max_age) == ((), False, False, 600)


def test_default_policy_bad_bool_keeps_its_default() -> None:
    config = parse_config({"ALLOW_CREDENTIALS": "yes", "USE_DATABASE": 1, "ALLOW_INSECURE_ORIGINS": "no"})

    assert (config.default_policy.credentials, config.default_policy.use_database, config.allow_insecure) == (
        True,
        True,
        False,
    )


def test_reads_database_when_any_policy_does() -> None:
    assert parse_config({"USE_DATABASE": False}).reads_database is False
    raw = {"USE_DATABASE": False, "POLICIES": {"p": {"USE_DATABASE": True}}}
    assert parse_config(raw).reads_database is True


def test_trust_for_csrf_list_names_exact_default_origins() -> None:
    config = parse_config({"ALLOWED_ORIGINS": [APP, "https://b.example.com"], "TRUST_FOR_CSRF": [APP + "/"]})

    assert config.problems == ()
    assert config.default_policy.csrf_origins == frozenset({APP})
    assert config.default_policy.trust_rows is False  # A list trusts the settings origins it names, no row.


@pytest.mark.parametrize(
    "value", [[PARTNER], ["https://*.example.com"], ["not an origin"], "https://app.example.com", 1]
)
def test_trust_for_csrf_refuses_what_the_default_policy_does_not_list(value: Any) -> None:
    raw = {"ALLOWED_ORIGINS": [APP, "https://*.example.com"], "TRUST_FOR_CSRF": value}

    text = _problem(raw, "credcors.E021")

    assert "TRUST_FOR_CSRF" in text
    assert parse_config(raw).trusts_any_for_csrf is False


def test_trust_for_csrf_list_takes_exact_origins_of_credentialed_named_policies() -> None:
    raw = {
        "ALLOWED_ORIGINS": [APP],
        "TRUST_FOR_CSRF": [PARTNER],
        "POLICIES": {"partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": True}},
    }

    config = parse_config(raw)

    assert config.problems == ()
    assert config.policies["partners"].csrf_origins == frozenset({PARTNER})
    assert config.default_policy.csrf_origins == frozenset()


def test_trust_for_csrf_refuses_an_origin_of_a_policy_without_credentials() -> None:
    # CONTRACT's partners policy sends no credentials: its pages cannot read a token.
    text = _problem({**CONTRACT, "TRUST_FOR_CSRF": [PARTNER]}, "credcors.E021")

    assert repr(PARTNER) in text
    assert "a policy that sends credentials" in text
    assert parse_config({**CONTRACT, "TRUST_FOR_CSRF": [PARTNER]}).trusts_any_for_csrf is False


def test_row_added_to_a_policy_without_credentials_is_never_trusted() -> None:
    # The change path (Snapshot.changed) follows the compile's rule.
    snapshot = compile_snapshot(
        [
            compile_policy(DEFAULT_POLICY, DEFAULT_HEADERS, []),
            compile_policy("readers", OPEN_HEADERS),
            compile_policy("p", DEFAULT_HEADERS),
        ]
    )
    rule = parse_rule("https://row.example.net")

    changed = snapshot.changed((), [("readers", (rule, rule.serialize(), 1, None), True)])
    both = snapshot.changed((), [("p", (rule, rule.serialize(), 2, None), True)])

    assert changed is not None
    assert both is not None
    assert changed.exact_grant("https://row.example.net", "readers") is not None
    assert changed.trusts_for_csrf("https://row.example.net", "readers") is False
    assert both.trusts_for_csrf("https://row.example.net", "p") is True


# --- snapshot and decide -----------------------------------------------------------------

DEFAULT_HEADERS = Headers.build(allow_methods=["GET", "POST"], allow_headers=["content-type"], credentials=True)
OPEN_HEADERS = Headers.build(allow_methods=["GET"], allow_headers=["content-type"], credentials=False)
SNAPSHOT = compile_snapshot(
    [
        compile_policy(DEFAULT_POLICY, DEFAULT_HEADERS, [parse_rule(APP)]),
        compile_policy("public", OPEN_HEADERS, allow_all=True),
        compile_policy("partners", OPEN_HEADERS, [parse_rule(PARTNER)]),
    ]
)


@pytest.mark.parametrize("origin", [APP, PARTNER, STRANGER, "capacitor://localhost"])
def test_allow_all_policy_answers_star_without_credentials(origin: str) -> None:
    decision = decide(SNAPSHOT, "GET", origin, policy="public")

    assert decision.allowed is True
    assert decision.rule is ANY_ORIGIN
    assert dict(decision.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == "*"
    assert ACCESS_CONTROL_ALLOW_CREDENTIALS not in dict(decision.headers)


def test_allow_all_policy_never_sends_credentials_even_from_credentialed_headers() -> None:
    # compile_policy gets a policy's headers; E019 keeps credentials off, and
    # the compiled '*' answers drop the header even if they were on.
    snapshot = compile_snapshot(
        [
            compile_policy(DEFAULT_POLICY, DEFAULT_HEADERS, []),
            compile_policy("open", DEFAULT_HEADERS, allow_all=True),
        ]
    )

    for decision in (
        decide(snapshot, "GET", APP, policy="open"),
        decide(snapshot, "OPTIONS", APP, "GET", None, "open"),
    ):
        assert decision.allowed is True
        assert ACCESS_CONTROL_ALLOW_CREDENTIALS not in dict(decision.headers)


@pytest.mark.parametrize(
    ("origin", "reason"),
    [("null", Reason.NULL_ORIGIN), (f"{APP}, {PARTNER}", Reason.MULTIPLE_ORIGINS), ("x" * 300, Reason.ORIGIN_TOO_LONG)],
)
def test_allow_all_policy_still_refuses_null_and_lists(origin: str, reason: Reason) -> None:
    decision = decide(SNAPSHOT, "GET", origin, policy="public")

    assert (decision.allowed, decision.reason, decision.headers) == (False, reason, ())


def test_allow_all_preflight_checks_methods_and_headers() -> None:
    allowed = decide(SNAPSHOT, "OPTIONS", STRANGER, "GET", "content-type", "public")
    method = decide(SNAPSHOT, "OPTIONS", STRANGER, "DELETE", None, "public")
    header = decide(SNAPSHOT, "OPTIONS", STRANGER, "GET", "x-secret", "public")

    assert allowed.allowed is True
    assert dict(allowed.headers)[ACCESS_CONTROL_ALLOW_ORIGIN] == "*"
    assert (method.allowed, method.reason, method.detail) == (False, Reason.METHOD_NOT_ALLOWED, "DELETE")
    assert (header.allowed, header.reason, header.detail) == (False, Reason.HEADER_NOT_ALLOWED, "x-secret")


def test_partner_policy_allows_only_its_origins_without_credentials() -> None:
    partner = decide(SNAPSHOT, "GET", PARTNER, policy="partners")

    assert partner.allowed is True
    assert partner.headers == ((ACCESS_CONTROL_ALLOW_ORIGIN, PARTNER),)
    assert decide(SNAPSHOT, "GET", APP, policy="partners").reason is Reason.ORIGIN_NOT_ALLOWED
    assert decide(SNAPSHOT, "GET", PARTNER).reason is Reason.ORIGIN_NOT_ALLOWED


def test_default_policy_decisions_are_unchanged_by_named_ones() -> None:
    alone = compile_snapshot([compile_policy(DEFAULT_POLICY, DEFAULT_HEADERS, [parse_rule(APP)])])

    for method in ("GET", "POST"):
        assert decide(SNAPSHOT, method, APP) == decide(alone, method, APP)
        assert decide(SNAPSHOT, method, APP, policy="default") is decide(SNAPSHOT, method, APP)


@pytest.mark.parametrize("kind", ["GET", "OPTIONS"])
def test_unknown_policy_is_refused(kind: str) -> None:
    decision = decide(SNAPSHOT, kind, APP, "GET", None, "nope")

    assert (decision.allowed, decision.reason, decision.headers) == (False, Reason.UNKNOWN_POLICY, ())


def test_headers_of_a_policy() -> None:
    assert SNAPSHOT.headers_of("partners") is OPEN_HEADERS
    assert SNAPSHOT.headers_of("default") is DEFAULT_HEADERS
    assert SNAPSHOT.headers_of("nope") is DEFAULT_HEADERS


def test_csrf_trust_is_per_grant_and_per_policy() -> None:
    rule = parse_rule("https://row.example.com")
    p2 = parse_rule("https://p2.example.net")
    snapshot = compile_snapshot(
        [
            compile_policy(
                DEFAULT_POLICY,
                DEFAULT_HEADERS,
                [parse_rule(APP), parse_rule("https://b.example.com")],
                [
                    (rule, rule.serialize(), 7, None),
                    (parse_rule("https://*.rows.example.com"), "https://*.rows.example.com", 8, None),
                ],
                csrf_origins=frozenset({APP}),
                trusted_rows=frozenset({7, 8, 9, 10}),
            ),
            compile_policy(
                "partners",
                DEFAULT_HEADERS,
                [parse_rule(PARTNER)],
                [(p2, p2.serialize(), 9, None)],
                csrf_origins=frozenset({PARTNER}),
                trusted_rows=frozenset({7, 8, 9, 10}),
            ),
            compile_policy(
                "readers",
                OPEN_HEADERS,
                [parse_rule(STRANGER)],
                [
                    (
                        parse_rule("http://reader.example.net", credentials=False),
                        "http://reader.example.net",
                        10,
                        None,
                    )
                ],
                csrf_origins=frozenset({STRANGER}),
                trusted_rows=frozenset({10}),
            ),
        ]
    )

    assert snapshot.trusts_for_csrf(APP, "default") is True
    assert snapshot.trusts_for_csrf("https://b.example.com", "default") is False  # Allowed to read, not to write.
    assert snapshot.trusts_for_csrf("https://row.example.com", "default") is True
    assert snapshot.trusts_for_csrf("https://x.rows.example.com", "default") is False  # A pattern never is.
    # Each origin is trusted on the views of its own policy only.
    assert snapshot.trusts_for_csrf("https://p2.example.net", "partners") is True
    assert snapshot.trusts_for_csrf("https://p2.example.net", "default") is False
    assert snapshot.trusts_for_csrf(PARTNER, "partners") is True
    assert snapshot.trusts_for_csrf(PARTNER, "default") is False
    assert snapshot.trusts_for_csrf(APP, "partners") is False
    # A policy without credentials trusts nobody, whatever its rows and settings say.
    assert snapshot.trusts_for_csrf(STRANGER, "readers") is False
    assert snapshot.trusts_for_csrf("http://reader.example.net", "readers") is False
    assert snapshot.trusts_for_csrf(APP, "nope") is False
    assert snapshot.policies["partners"].rows == 1


# --- every policy diagnosed alike (issue #22, item 1) ---------------------------------


def test_a_named_policys_refusal_gets_the_near_miss_walk_of_its_own_list() -> None:
    from credcors.core.compile import compile_settings
    from credcors.core.diagnose import origin_verdict

    config = parse_config(
        {
            "ALLOWED_ORIGINS": [APP],
            "POLICIES": {
                "partners": {"ALLOWED_ORIGINS": [PARTNER], "ALLOW_CREDENTIALS": True},
                "also": {"ALLOWED_ORIGINS": [APP], "ALLOW_CREDENTIALS": True},
                "public": {"ALLOW_ALL_ORIGINS": True},
            },
        }
    )
    snapshot = compile_settings(config)

    # A near miss of the partners' own list, as the default policy gets for its own.
    near = origin_verdict(snapshot, config, PARTNER.replace("https", "http"), Reason.ORIGIN_NOT_ALLOWED, [], "partners")
    assert near.cause == "scheme-differs"
    # Listed elsewhere: named, with the plural; never the policy that answers every origin.
    elsewhere = origin_verdict(snapshot, config, APP, Reason.ORIGIN_NOT_ALLOWED, [], "partners")
    assert elsewhere.cause == "not-listed"
    assert "of the policy 'partners'" in elsewhere.message
    assert "The policies 'default' and 'also' allow it: this view's policy decides, not theirs." in elsewhere.hints
    assert "--policy partners" in elsewhere.hints[0]


def test_only_rows_of_the_policy_asked_about_explain_its_refusal() -> None:
    from credcors.core.compile import compile_settings
    from credcors.core.diagnose import Row, origin_verdict

    raw = {"POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": False}}}
    config = parse_config(raw)
    snapshot = compile_settings(config)
    rows = [Row(1, PARTNER, enabled=False), Row(2, PARTNER, enabled=True, policy="partners")]

    default = origin_verdict(snapshot, config, PARTNER, Reason.ORIGIN_NOT_ALLOWED, rows)
    partners = origin_verdict(snapshot, config, PARTNER, Reason.ORIGIN_NOT_ALLOWED, rows, "partners")

    assert default.cause == "disabled-row"
    assert partners.cause == "database-off"
    assert "CREDCORS['POLICIES']['partners']['USE_DATABASE'] is False" in partners.message
