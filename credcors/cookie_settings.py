"""What Django's settings say about the API's cookies and hosts.

The one place that reads them for :mod:`credcors.core.same_site`: the cookie system
checks (:mod:`credcors.checks`) and the cookie verdict that ``explain`` and
the admin's test page show (:mod:`credcors.explain`) gather the same facts
here, so they never disagree.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from credcors.core.config import Config
from credcors.core.origins import Rule
from credcors.core.same_site import ApiHttp, Cookie, CookieVerdict, api_hosts, api_sites, judge

__all__ = ["api_http", "cookie_verdict", "django_api_hosts", "django_cookies"]


def _uses_middleware(base: str) -> bool:
    cls = import_string(base)
    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            if issubclass(import_string(path), cls):
                return True
        except (ImportError, TypeError):
            continue
    return False


def django_cookies() -> list[Cookie]:
    """The Django cookies credentialed requests rely on: the session's and CSRF's, when in use."""
    cookies: list[Cookie] = []
    if _uses_middleware("django.contrib.sessions.middleware.SessionMiddleware"):
        cookies.append(Cookie("SESSION_COOKIE", settings.SESSION_COOKIE_SAMESITE, bool(settings.SESSION_COOKIE_SECURE)))
    # With CSRF_USE_SESSIONS the token lives in the session: there is no CSRF cookie.
    if not settings.CSRF_USE_SESSIONS and _uses_middleware("django.middleware.csrf.CsrfViewMiddleware"):
        cookies.append(Cookie("CSRF_COOKIE", settings.CSRF_COOKIE_SAMESITE, bool(settings.CSRF_COOKIE_SECURE)))
    return cookies


def django_api_hosts() -> tuple[str, ...]:
    """The API's concrete hosts, from ``ALLOWED_HOSTS`` (see :func:`credcors.core.same_site.api_hosts`)."""
    return api_hosts(settings.ALLOWED_HOSTS, debug=settings.DEBUG)


def api_http(config: Config, cookies: list[Cookie]) -> ApiHttp:
    """Where the API may be served over http:// (see :func:`credcors.core.same_site.api_sites`)."""
    if settings.SECURE_SSL_REDIRECT:
        return "never"
    # Secure cookies only ever travel over https:// (localhost aside), so
    # for them the API is an https:// site even if it also answers http://.
    if config.allow_insecure and not (cookies and all(cookie.secure for cookie in cookies)):
        return "any"
    return "loopback"


def cookie_verdict(rule: Rule, config: Config) -> CookieVerdict:
    """Whether the API's cookies travel on credentialed requests from ``rule``, by this process's settings."""
    cookies = django_cookies()
    return judge(rule, api_sites(django_api_hosts(), http=api_http(config, cookies)), cookies)
