"""Cookie readiness, as system checks: will the browser send the cookies from each allowed origin?

Turns the verdicts of :func:`credcors.core.same_site.judge` over a whole allow-list
into :class:`~credcors.core.catalogue.Problem` values, one message per cookie
setting or origin, that ``checks.py`` reports.  Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from credcors.core.catalogue import Problem
from credcors.core.origins import Rule
from credcors.core.same_site import REFUSING_BROWSERS, ApiHttp, Cookie, CookieVerdict, api_sites, judge

__all__ = ["cookie_findings"]

# How many origins a message names before it says "and N more".
_NAMED = 5


def cookie_findings(
    rules: Iterable[Rule],
    hosts: Sequence[str],
    cookies: Sequence[Cookie],
    *,
    http: ApiHttp = "loopback",
    dropped_cookies: bool = True,
) -> list[Problem]:
    """The system-check messages for credentialed requests from ``rules``.

    ``hosts`` are the API's concrete hosts (:func:`api_hosts`); with none,
    only what is wrong on every site is reported.  ``http`` is as for
    :func:`api_sites`.  ``dropped_cookies=False``
    leaves out the site-independent error, for a second pass over more rules.
    """
    findings: list[Problem] = []
    if dropped_cookies:
        findings.extend(_dropped_finding(cookie) for cookie in cookies if cookie.dropped)
    sites = api_sites(hosts, http=http)
    if not sites:
        return findings
    verdicts = [judge(rule, sites, cookies) for rule in rules]
    cross = [verdict for verdict in verdicts if verdict.same_site is False]
    if not cross:
        return findings
    where = _names(sorted({api.host for api in sites}))
    for cookie in cookies:
        origins = [verdict.origin for verdict in cross if cookie in verdict.held_back]
        if origins:
            findings.append(_held_back_finding(cookie, origins, where))
    for verdict in cross:
        if verdict.site.scheme == "http":
            findings.append(_http_finding(verdict, where))
    findings.append(_third_party_finding([verdict.origin for verdict in cross]))
    return findings


def _names(values: Sequence[str]) -> str:
    named = ", ".join(repr(value) for value in values[:_NAMED])
    return named if len(values) <= _NAMED else f"{named} and {len(values) - _NAMED} more"


def _held_back_finding(cookie: Cookie, origins: Sequence[str], where: str) -> Problem:
    unset = " (no SameSite attribute, which Chrome treats as 'Lax')" if not isinstance(cookie.samesite, str) else ""
    return Problem(
        "credcors.W006",
        f"{cookie.samesite_setting} is {cookie.samesite!r}{unset}, so browsers will not send the "
        f"{cookie.label} on credentialed requests from {_names(origins)}, on another site than the API "
        f"(ALLOWED_HOSTS: {where}).",
        f"Set {cookie.samesite_setting} = 'None' and {cookie.secure_setting} = True (the API must be served "
        "over https://), or serve the API from the front end's own site (api.<front end's domain>).",
    )


def _dropped_finding(cookie: Cookie) -> Problem:
    return Problem(
        "credcors.E014",
        f"{cookie.samesite_setting} is {cookie.samesite!r} but {cookie.secure_setting} is False: browsers "
        f"reject a SameSite=None cookie that is not Secure, so no request carries the {cookie.label}.",
        f"Set {cookie.secure_setting} = True and serve the API over https://.",
    )


def _http_finding(verdict: CookieVerdict, where: str) -> Problem:
    why = " (the same domain, but browsers count the scheme as part of the site)" if verdict.scheme_only else ""
    return Problem(
        "credcors.W007",
        f"{verdict.origin!r} is an http:// page on another site than the API (ALLOWED_HOSTS: {where}){why}: "
        "its credentialed requests carry the API's cookies only if they are SameSite=None and Secure, "
        "and Secure cookies need the API on https://.",
        "Serve the front end over https:// from the API's own site (https://app.example.com for an API "
        "at api.example.com), or, in development, from the same host name as the API "
        "(localhost and 127.0.0.1 are different sites).",
    )


def _third_party_finding(origins: Sequence[str]) -> Problem:
    return Problem(
        "credcors.I001",
        f"{_names(origins)} {'is' if len(origins) == 1 else 'are'} on another site than the API: "
        f"{' and '.join(REFUSING_BROWSERS)} block third-party cookies by default (so does Chrome in Incognito "
        "windows and for users who turn them off), "
        "so even a SameSite=None; Secure cookie will not reach the API from there in those browsers.",
        "Serve the API on the front end's own site (api.<front end's domain>), or call it through a "
        "backend-for-frontend on the front end's origin.",
    )
