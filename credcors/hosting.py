"""The request's host as Django validates it, for grants scoped to hosts (:mod:`credcors.core.scopes`).

:func:`request_host` gives what ``request.get_host()`` accepts, without its
port and lowercase, or ``None`` when Django would refuse it
(``DisallowedHost``): a host outside ``ALLOWED_HOSTS`` never reaches a grant.
Django's own check costs 3.5 µs a call; the answer depends only on the raw
header and the settings, so a bounded dict remembers it per raw value (a
hit is one dict lookup), emptied when the settings change.
:func:`unreachable_scopes` tells which host entries ``ALLOWED_HOSTS`` can never
match, for forms and system checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host

__all__ = ["allowed_hosts", "header_host", "request_host", "reset_hosts", "scope_host", "unreachable_scopes"]

#: Most raw host values remembered; clients choose them, so it is bounded.
HOST_BOUND = 1024
_MISS = object()
_hosts: dict[str, str | None] = {}
# Read with the first request after a change of settings: reading them per
# request through django.conf.settings costs 0.3 µs each.
_forwarded: bool | None = None


def allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS`` as ``get_host()`` applies it (with DEBUG and none set: the localhost variants)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        return [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def scope_host(raw: str) -> str | None:
    """The host part of a raw ``Host`` value that ``ALLOWED_HOSTS`` accepts, lowercase, else ``None``."""
    domain, _ = split_domain_port(raw)
    return domain if domain and validate_host(domain, allowed_hosts()) else None


def request_host(request: HttpRequest) -> str | None:
    """The host ``request.get_host()`` accepts, without its port; ``None`` when Django refuses it."""
    meta = request.META
    raw = meta.get("HTTP_X_FORWARDED_HOST") if _use_forwarded() else None
    if raw is None:
        raw = meta.get("HTTP_HOST")
    if not isinstance(raw, str):
        # No Host header (HTTP/1.0, or a test's RequestFactory): Django
        # rebuilds it from SERVER_NAME and the port, as PEP 3333 says.
        name = meta.get("SERVER_NAME")
        if not isinstance(name, str):
            return None
        port = request.get_port()
        raw = name if port == ("443" if request.is_secure() else "80") else f"{name}:{port}"
    return _remembered(raw)


def header_host(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """:func:`request_host` for an ASGI scope's headers (a WebSocket handshake); ``""`` when Django refuses it.

    ``None`` when the handshake has no ``Host`` header at all, which no
    browser sends: then only the grants of every host apply.
    """
    wanted = (b"x-forwarded-host", b"host") if _use_forwarded() else (b"host",)
    found = {name.lower(): value for name, value in headers if name.lower() in wanted}
    for name in wanted:
        if name in found:
            return _remembered(found[name].decode("latin-1")) or ""
    return None


def _use_forwarded() -> bool:
    global _forwarded
    forwarded = _forwarded
    if forwarded is None:
        forwarded = _forwarded = bool(settings.USE_X_FORWARDED_HOST)
    return forwarded


def _remembered(raw: str) -> str | None:
    global _hosts
    host = _hosts.get(raw, _MISS)
    if host is _MISS:
        host = scope_host(raw)
        if len(_hosts) >= HOST_BOUND:
            _hosts = {}
        _hosts[raw] = host
    return host  # type: ignore[return-value]


def reset_hosts() -> None:
    """Forget every remembered host (``ALLOWED_HOSTS``, ``USE_X_FORWARDED_HOST`` or ``DEBUG`` changed)."""
    global _forwarded, _hosts
    _forwarded = None
    _hosts = {}


def _reachable(scope: str, allowed: Sequence[str]) -> bool:
    if not scope.startswith("."):
        return validate_host(scope, allowed)
    domain = scope[1:]
    if validate_host(domain, allowed):
        return True
    # Some host beneath the domain that ALLOWED_HOSTS names, or a pattern beneath it.
    for pattern in allowed:
        name = pattern.lower().lstrip(".")
        if pattern == "*" or name == domain or name.endswith(scope):
            return True
    return False


def unreachable_scopes(scopes: Iterable[str]) -> list[str]:
    """The entries (canonical, see :mod:`credcors.core.scopes`) that no host ``ALLOWED_HOSTS`` accepts can match."""
    allowed = allowed_hosts()
    return [scope for scope in scopes if not _reachable(scope, allowed)]
