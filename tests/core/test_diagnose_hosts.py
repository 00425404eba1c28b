"""Explanations name an origin's hosts: allowed on these hosts, not on this one (issue 24)."""

from __future__ import annotations

from typing import Any

from credcors.core.compile import compile_rows
from credcors.core.config import parse_config
from credcors.core.diagnose import Explanation, Row, explain, render
from credcors.core.scopes import join_scopes

APP_A = "https://app.customer-a.com"
HOST_A = "api.customer-a.com"
HOST_B = "api.customer-b.com"


def _explain(
    origin: str,
    settings: dict[str, Any] | None = None,
    rows: tuple[tuple[Any, ...], ...] = (),
    diagnosed: tuple[Row, ...] = (),
    **kw: Any,
) -> Explanation:
    config = parse_config(settings or {"ALLOWED_ORIGINS": ["https://app.example.com"]})
    snapshot = compile_rows(config, rows)[0]
    return explain(snapshot, config, origin, rows=diagnosed, **kw)


def _scoped(*hosts: str, trusted: bool = False) -> tuple[tuple[Any, ...], ...]:
    return ((APP_A, 7, "default", trusted, None, join_scopes(hosts)),)


def test_settings_origin_scoped_to_a_host_is_allowed_there_and_says_through_which_scope() -> None:
    result = _explain(APP_A, {"ALLOWED_ORIGINS": [APP_A], "HOSTS": [".customer-a.com"]}, host=HOST_A)

    assert result.allowed
    assert result.host == HOST_A
    assert (
        "Allowed on this host through its host scope .customer-a.com; a request to another host is refused."
        in result.hints
    )


def test_origin_allowed_on_every_host_gets_no_scope_hint_on_a_host() -> None:
    result = _explain(APP_A, {"ALLOWED_ORIGINS": [APP_A]}, rows=_scoped(HOST_B), host=HOST_A)

    assert result.allowed
    assert not any("host scope" in hint for hint in result.hints)


def test_origin_allowed_in_a_policy_without_scopes_gets_no_scope_hint() -> None:
    result = _explain("https://app.example.com", host=HOST_A)

    assert result.allowed
    assert not any("host scope" in hint for hint in result.hints)


def test_settings_origin_refused_on_another_host_names_the_hosts_and_the_setting() -> None:
    result = _explain(APP_A, {"ALLOWED_ORIGINS": [APP_A], "HOSTS": [HOST_A]}, host=HOST_B)

    assert not result.allowed
    assert result.cause == "other-host"
    assert result.message == (
        f"{APP_A} is allowed on {HOST_A}, not on this host ({HOST_B}); settings scopes it to those hosts."
    )
    assert result.hints == (
        f"If {HOST_B} serves the same tenant, add it to CREDCORS['HOSTS']; otherwise this refusal is what the "
        "scope is for.",
    )


def test_named_policy_settings_scope_names_its_own_hosts_key() -> None:
    settings = {"POLICIES": {"partners": {"ALLOWED_ORIGINS": [APP_A], "HOSTS": [HOST_A]}}}

    result = _explain(APP_A, settings, host=HOST_B, policy="partners")

    assert result.cause == "other-host"
    assert "add it to CREDCORS['POLICIES']['partners']['HOSTS']" in result.hints[0]


def test_row_refused_on_another_host_says_allowed_there_not_here_and_how_to_widen() -> None:
    result = _explain(APP_A, rows=_scoped(HOST_A, ".customer-c.com"), host=HOST_B)

    assert result.cause == "other-host"
    assert result.message == (
        f"{APP_A} is allowed on .customer-c.com {HOST_A}, not on this host ({HOST_B}); "
        "database row 7 scopes it to those hosts."
    )
    assert f"'manage.py credcors add {APP_A} --host .customer-c.com --host {HOST_A} --host {HOST_B}'" in result.hints[0]
    assert "allowed on .customer-c.com api.customer-a.com, not on this host" in render(result)


def test_no_host_given_says_which_hosts_the_origin_is_allowed_on() -> None:
    result = _explain(APP_A, rows=_scoped(".customer-a.com"))

    assert not result.allowed
    assert result.cause == "host-scoped"
    assert result.message == (
        f"{APP_A} is allowed only on hosts .customer-a.com (database row 7), and no host was given: a request "
        "to an unknown host gets only what is allowed on every host."
    )
    assert result.hints == (
        "Name the API host the page calls to explain a request to it, e.g. "
        f"'manage.py credcors explain {APP_A} --host customer-a.com'.",
    )
    assert result.to_dict()["host"] is None
    assert "Host:" not in render(result)


def test_refused_preflight_on_another_host_is_explained_with_the_hosts() -> None:
    result = _explain(APP_A, rows=_scoped(HOST_A), host=HOST_B, method="PUT")

    assert result.cause == "other-host"
    assert len(result.exchanges) == 1


def test_row_allowed_on_its_host_is_trusted_for_csrf_there() -> None:
    result = _explain(APP_A, rows=_scoped(HOST_A, trusted=True), host=HOST_A, method="POST")

    assert result.allowed
    assert result.csrf_trusted is True
    assert result.to_dict()["host"] == HOST_A
    assert f'Host:     "{HOST_A}"' in render(result)


def test_misspelled_origin_follows_the_canonical_origin_on_the_host() -> None:
    allowed = _explain(APP_A.upper().replace("HTTPS", "https"), rows=_scoped(HOST_A), host=HOST_A)
    refused = _explain(APP_A.upper().replace("HTTPS", "https"), rows=_scoped(HOST_A), host=HOST_B)

    assert allowed.cause == refused.cause == "uppercase"
    assert allowed.hints[0].startswith(f"A browser on that page sends {APP_A}, which credcors allows")
    assert refused.hints[0] == (
        f"A browser on that page sends {APP_A}, which credcors refuses too: {APP_A} is allowed on {HOST_A}, "
        f"not on this host ({HOST_B}); database row 7 scopes it to those hosts."
    )


def test_disallowed_host_is_refused_before_any_origin_and_rendered_so() -> None:
    result = _explain("https://app.example.com", host="")

    assert result.cause == "disallowed-host"
    assert "Host:     one ALLOWED_HOSTS refuses" in render(result)


# Rows the snapshot does not hold yet (just added): their hosts still explain the refusal.


def _row(*hosts: str, **kw: Any) -> Row:
    return Row(9, APP_A, enabled=kw.pop("enabled", True), hosts=hosts, **kw)


def test_unloaded_row_scoped_elsewhere_is_explained_by_its_hosts() -> None:
    on_b = _explain(APP_A, diagnosed=(_row(HOST_A),), host=HOST_B)
    unknown = _explain(APP_A, diagnosed=(_row(HOST_A),))

    assert on_b.cause == "other-host"
    assert "database row 9 scopes it to those hosts" in on_b.message
    assert unknown.cause == "host-scoped"


def test_unloaded_row_scoped_to_this_host_is_not_loaded_yet() -> None:
    result = _explain(APP_A, diagnosed=(_row(".customer-a.com"),), host=HOST_A)

    assert result.cause == "not-loaded-yet"
    assert result.message == (
        f"database row 9 ({APP_A}, on hosts .customer-a.com) allows {APP_A}, but this process has not loaded it yet."
    )


def test_disabled_scoped_row_is_named_with_its_hosts() -> None:
    result = _explain(APP_A, diagnosed=(_row(HOST_A, enabled=False),), host=HOST_A)

    assert result.cause == "disabled-row"
    assert result.message == f"database row 9 ({APP_A}, on hosts {HOST_A}) would allow {APP_A}, but it is disabled."
