"""Explain an origin against this process's real settings, snapshot and rows.

The Django face of :mod:`credcors.core.diagnose`: the ``credcors explain`` command
and the admin's "Test an origin" page both render what
:func:`explain_request` returns.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from credcors.conf import get_config
from credcors.cookie_settings import cookie_verdict
from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.diagnose import Explanation, Row, explain, row_candidates
from credcors.core.origin_header import DEFAULT_PORTS
from credcors.core.origins import OriginError, parse_rule
from credcors.core.quoting import safe
from credcors.core.scopes import split_scopes
from credcors.hosting import allowed_hosts, scope_host
from credcors.routing import get_path_policies, view_policy
from credcors.rows.lifetime import describe
from credcors.store.current import get_store
from credcors.store.reads import read_rows

__all__ = ["explain_request", "path_policy"]


def explain_request(
    origin: str,
    *,
    method: str = "GET",
    headers: Iterable[str] = (),
    path: str | None = None,
    websocket: bool = False,
    policy_name: str = DEFAULT_POLICY,
    host: str | None = None,
) -> Explanation:
    """Explain ``origin`` against this process's real settings, snapshot and rows.

    With ``websocket``, a WebSocket handshake to ``path`` under
    ``credcors.websocket.OriginValidator(app, policy=policy_name)``: the same
    decision as a ``GET`` (no preflight), the policy the validator names.
    ``host`` is the API host the request goes to, as its ``Host`` header
    says it (a port is allowed, and dropped); it is validated against
    ``ALLOWED_HOSTS`` as Django would, so a host Django refuses is
    explained as refused.  ``None``: unknown, so only what is allowed on
    every host applies, and an origin allowed only on some hosts is
    explained with those hosts.
    """
    config = get_config()
    snapshot = get_store().get()
    # As the middleware takes it (credcors.hosting.request_host): "" when Django would refuse it.
    decided = None if host is None else scope_host(host) or ""
    rows: list[Row] = []
    candidates = row_candidates(origin)
    db_note: tuple[str, ...] = ()
    if candidates:
        try:
            found = read_rows(
                origins=candidates,
                fields=("pk", "origin", "enabled", "note", "expires_at", "trust_for_csrf", "policy", "hosts"),
            )
        except DatabaseError as exc:
            db_note = (f"Could not read AllowedOrigin rows ({type(exc).__name__}); database rows are not analysed.",)
        else:
            now = timezone.now()
            rows = [
                Row(
                    pk,
                    origin_,
                    enabled,
                    note,
                    None if expires is None or expires > now else describe(expires),
                    trust,
                    name,
                    split_scopes(hosts),
                )
                for pk, origin_, enabled, note, expires, trust, name, hosts in found
            ]
    cookies = _cookie_lines(origin, config)
    if websocket:
        # The validator sits outside Django's URL resolution: its argument is the policy.
        policy, why = policy_name, f"a socket's policy is the OriginValidator's policy argument ({policy_name!r})"
        method, headers, db_note = "GET", (), db_note + _websocket_notes(path, policy_name, config)
    else:
        policy, why = path_policy(path, config)
    result = explain(
        snapshot,
        config,
        origin,
        method=method,
        headers=headers,
        path=None if websocket else path,
        rows=rows,
        cookies=cookies,
        policy=policy,
        policy_reason=why,
        host=decided,
    )
    if not result.allowed:
        db_note += _cors_headers_note(origin)
    if decided == "":
        accepted = ", ".join(allowed_hosts()) or "none"
        db_note += (f"The host {safe(host, 300)} is not one ALLOWED_HOSTS accepts ({accepted}).",)
    if db_note:
        result = dataclasses.replace(result, hints=result.hints + db_note)
    return result


def _websocket_notes(path: str | None, policy: str, config: Config) -> tuple[str, ...]:
    named = config.policy(policy)
    no_origin = named is not None and named.websocket_allow_no_origin
    where = "" if path is None else f" to {safe(path)}"
    return (
        f"A WebSocket handshake{where}: decided as a GET from this origin, with no preflight; "
        "an allowed socket gets no CORS headers, a refused one HTTP 403 (or close 1008) before the consumer runs.",
        f"A handshake without Origin (never a browser's) is {'allowed' if no_origin else 'refused'} by the "
        f"policy {policy!r} (WEBSOCKET_ALLOW_NO_ORIGIN = {no_origin}).",
    )


def _cors_headers_note(origin: str) -> tuple[str, ...]:
    """A hint when a django-cors-headers setting lists ``origin``: credcors reads none of them (W014)."""
    listed = None
    for name in ("CORS_ALLOWED_ORIGINS", "CORS_ORIGIN_WHITELIST"):
        if origin in _strings(getattr(settings, name, ())):
            listed = name
    for name in ("CORS_ALLOWED_ORIGIN_REGEXES", "CORS_ORIGIN_REGEX_WHITELIST"):
        for pattern in _strings(getattr(settings, name, ())):
            try:
                if re.match(pattern, origin):
                    listed = name
            except re.error:
                continue  # django-cors-headers would fail on it too; convert-settings reports it.
    if listed is None:
        return ()
    return (
        f"settings.{listed} lists this origin, but that is a django-cors-headers setting, which credcors does "
        "not read: run 'manage.py credcors convert-settings' to print the CREDCORS dict that allows it.",
    )


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, (list, tuple)) else []


def path_policy(path: str | None, config: Config) -> tuple[str, str]:
    """The policy the middleware would apply at ``path``, and why, in words (none without ``POLICIES``)."""
    if not config.views_name_policies:
        return DEFAULT_POLICY, ""
    if path is None:
        return DEFAULT_POLICY, "no path given; views without a policy of their own use the default policy"
    view = get_path_policies().view(path)  # In the path's language, as a preflight resolves it.
    if view is None:
        return DEFAULT_POLICY, f"the path {safe(path)} resolves to no view, so the default policy applies"
    name = view_policy(view)
    label = getattr(getattr(view, "view_class", None) or getattr(view, "cls", None) or view, "__qualname__", "?")
    if name == DEFAULT_POLICY:
        return name, f"the view {label} at {safe(path)} names no policy, so the default policy applies"
    known = "" if name in config.policy_names else " (not in CREDCORS['POLICIES']: every request is refused)"
    return name, f"the view {label} at {safe(path)} names the policy {name!r}{known}"


def _cookie_lines(origin: str, config: Config) -> list[str]:
    """The cookie verdict on ``origin`` by this process's settings; ``explain`` keeps it where it matters."""
    try:
        rule = parse_rule(origin, allow_insecure=True)
    except OriginError:
        return []  # Not an origin a browser sends: refused before cookies matter.
    if rule.scheme not in DEFAULT_PORTS:
        return []  # An app shell's origin has no site for SameSite to compare.
    return cookie_verdict(rule, config).lines()
