"""Will the browser send the cookie?  Judge an allowed origin's *site* against the API's.

CORS headers decide whether a page may read a credentialed response; the
cookie's ``SameSite`` and ``Secure`` attributes decide whether the request
carries the cookie at all.  A front end on another *site* than the API (HTML
§7.1.1 "same site": the scheme and the registrable domain) gets the API's
cookies only if they are ``SameSite=None; Secure``, and even then Safari and
Firefox block or partition such third-party cookies by default.

This module is pure (no Django): :func:`judge` gives one origin's verdict for
``explain`` and the admin's test page; :mod:`credcors.core.cookies` turns the
verdicts of a whole allow-list into the system-check messages of
``checks.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from credcors.core.hosts import is_potentially_trustworthy_host, registrable_domain
from credcors.core.origins import Rule

__all__ = [
    "DEBUG_HOSTS",
    "REFUSING_BROWSERS",
    "ApiHttp",
    "ApiSite",
    "Cookie",
    "CookieVerdict",
    "Site",
    "api_hosts",
    "api_sites",
    "judge",
    "origin_site",
]

#: The hosts Django serves when ``DEBUG`` is on and ``ALLOWED_HOSTS`` is empty
#: (``django.http.request.HttpRequest.get_host``).
DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]")

#: Browsers that block or partition third-party cookies by default, so that
#: even a ``SameSite=None; Secure`` cookie does not reach a cross-site API:
#: Safari (ITP, full blocking since 13.1) and Firefox (Total Cookie
#: Protection).  Chrome kept them (April 2025), except in Incognito windows.
REFUSING_BROWSERS = ("Safari", "Firefox")

#: Where the API may be served over http:// (see api_sites).
ApiHttp = Literal["never", "loopback", "any"]

# A label no Public Suffix List rule names, to ask which site a pattern's
# subdomains are on (see origin_site).
_PROBE_LABEL = "credcors-probe"


@dataclass(frozen=True, slots=True)
class Site:
    """A scheme and a registrable domain: what "same site" compares."""

    scheme: str
    domain: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.domain}"


@dataclass(frozen=True, slots=True)
class ApiSite:
    """One of the API's hosts, its site's domain, and the schemes it may be served over."""

    host: str
    domain: str
    schemes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Cookie:
    """One Django cookie's settings: ``prefix`` is ``SESSION_COOKIE`` or ``CSRF_COOKIE``."""

    prefix: str
    samesite: object
    secure: bool

    @property
    def label(self) -> str:
        return "session cookie" if self.prefix == "SESSION_COOKIE" else "CSRF cookie"

    @property
    def samesite_setting(self) -> str:
        return f"{self.prefix}_SAMESITE"

    @property
    def secure_setting(self) -> str:
        return f"{self.prefix}_SECURE"

    @property
    def is_none(self) -> bool:
        # Django lower-cases the value when it writes the attribute.
        return isinstance(self.samesite, str) and self.samesite.lower() == "none"

    @property
    def dropped(self) -> bool:
        """Browsers reject ``SameSite=None`` without ``Secure`` when it is set, everywhere."""
        return self.is_none and not self.secure


@dataclass(frozen=True, slots=True)
class CookieVerdict:
    """Whether the API's cookies travel on credentialed requests from one allowed origin.

    ``same_site`` is ``None`` when the API's hosts are unknown
    (``ALLOWED_HOSTS = ["*"]``).  ``held_back`` names the cookies whose
    ``SameSite`` keeps them from a cross-site request; ``dropped`` those that
    browsers refuse to store at all.  ``refusing_browsers`` block third-party
    cookies whatever the settings say.
    """

    origin: str
    site: Site
    same_site: bool | None
    scheme_only: bool
    held_back: tuple[Cookie, ...]
    dropped: tuple[Cookie, ...]
    refusing_browsers: tuple[str, ...]

    @property
    def cookies_travel(self) -> bool | None:
        """Whether a browser that allows third-party cookies sends every cookie (``None``: unknown)."""
        if self.dropped:
            return False
        if self.same_site is None:
            return None
        return self.same_site or not self.held_back

    def lines(self) -> list[str]:
        """The verdict in sentences, for ``explain`` and the admin's test page."""
        lines: list[str] = []
        if self.same_site is None:
            lines.append(
                f"Cannot tell whether {self.origin} is on the API's site: ALLOWED_HOSTS names no concrete host."
            )
        elif self.same_site:
            lines.append(f"{self.origin} is on the API's site ({self.site}): cookies are same-site.")
        else:
            why = " (same domain, but browsers count the scheme as part of the site)" if self.scheme_only else ""
            lines.append(f"{self.origin} is on another site ({self.site}) than the API{why}.")
        for cookie in self.dropped:
            lines.append(
                f"Browsers reject the {cookie.label}: {cookie.samesite_setting} is 'None' "
                f"but {cookie.secure_setting} is False."
            )
        for cookie in self.held_back:
            lines.append(
                f"The {cookie.label} does not travel from there: {cookie.samesite_setting} is "
                f"{cookie.samesite!r}; it needs 'None' with {cookie.secure_setting} = True."
            )
        if self.refusing_browsers:
            lines.append(
                f"{' and '.join(self.refusing_browsers)} block third-party cookies by default, "
                "so they will not send the API's cookies from there in any case."
            )
        return lines


def api_hosts(allowed_hosts: Iterable[object], *, debug: bool) -> tuple[str, ...]:
    """The concrete hosts of ``ALLOWED_HOSTS``, the way Django matches them; ``()`` if unknown.

    A leading-dot entry (``".example.com"``) covers that domain and its
    subdomains, all on one site, so it stands for ``example.com``.  A
    ``"*"`` anywhere means the API answers on any host, so the other entries
    do not say where the front end calls it (Django's test runner adds
    ``"testserver"`` to every list); entries Django can never match (other
    wildcards, ports) say nothing either.  An empty list with ``DEBUG`` on is
    Django's own development default, :data:`DEBUG_HOSTS`.
    """
    entries = list(allowed_hosts)
    if "*" in entries:
        return ()
    if not entries and debug:
        entries = list(DEBUG_HOSTS)
    hosts: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            continue
        host = entry.strip().lower().rstrip(".").removeprefix(".")
        if not host or "*" in host or "/" in host or (":" in host and not host.startswith("[")):
            continue
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def api_sites(hosts: Iterable[str], *, http: ApiHttp = "loopback") -> tuple[ApiSite, ...]:
    """The API's sites.  Settings do not say the API's scheme, so ``http`` says
    where it may be ``http://``: ``"never"`` (``SECURE_SSL_REDIRECT``),
    ``"loopback"`` (development servers; elsewhere a credentialed API is
    served over https://) or ``"any"`` (``ALLOW_INSECURE_ORIGINS`` with
    cookies that are not ``Secure``)."""
    sites: list[ApiSite] = []
    for host in hosts:
        if http == "any" or (http == "loopback" and is_potentially_trustworthy_host(host)):
            schemes = frozenset({"https", "http"})
        else:
            schemes = frozenset({"https"})
        sites.append(ApiSite(host=host, domain=registrable_domain(host), schemes=schemes))
    return tuple(sites)


def origin_site(rule: Rule) -> Site:
    """The site of an exact origin, or the site a ``*.`` pattern's subdomains are on."""
    if not rule.wildcard:
        return Site(rule.scheme, registrable_domain(rule.host))
    # Every host a pattern matches has one more label in front of rule.host;
    # they share one site unless the Public Suffix List makes each of them a
    # suffix of its own (a "*." rule there), in which case this probe's site
    # is the probe itself and so matches no API host.
    return Site(rule.scheme, registrable_domain(f"{_PROBE_LABEL}.{rule.host}"))


def judge(rule: Rule, sites: Sequence[ApiSite] | None, cookies: Sequence[Cookie]) -> CookieVerdict:
    """One allowed origin's cookie verdict.  ``sites`` is ``None`` or empty when
    the API's hosts are unknown; the origin is same-site if it is on the site
    of *any* API host, since the front end may call that one."""
    site = origin_site(rule)
    dropped = tuple(cookie for cookie in cookies if cookie.dropped)
    if not sites:
        return CookieVerdict(rule.serialize(), site, None, False, (), dropped, ())
    same_domain = [api for api in sites if api.domain == site.domain]
    if any(site.scheme in api.schemes for api in same_domain):
        return CookieVerdict(rule.serialize(), site, True, False, (), dropped, ())
    held_back = tuple(cookie for cookie in cookies if not cookie.is_none)
    return CookieVerdict(rule.serialize(), site, False, bool(same_domain), held_back, dropped, REFUSING_BROWSERS)
