"""Which policy a request's view names: resolved views, and a bounded per-path cache for preflights.

An actual request reaches its view, so the middleware reads the view Django
resolved (``request.resolver_match``) after it ran: no second resolve.  A
preflight never reaches the view, so the middleware resolves
``request.path_info`` itself, through :func:`get_path_policies`.  Matching the
view Django resolved, never the raw path string, is what keeps ``../`` and
``+`` tricks (flask-cors CVE-2020-25032, CVE-2024-6844) out: a path picks
whatever policy the view it reaches has.

A preflight resolves as its actual request will: in the language
``LocaleMiddleware`` will activate for it (``i18n_patterns`` match on the
active language, and credcors runs before ``LocaleMiddleware``), and in the
``request.urlconf`` a middleware above credcors set.  A middleware below
credcors runs only for the actual request; :func:`report_urlconf_set_below`
says so in the log when one sets ``request.urlconf``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import translation
from django.utils.module_loading import import_string

from credcors.core.config.policies import DEFAULT_POLICY
from credcors.lazy import Lazy
from credcors.log import log_urlconf_set_below

__all__ = [
    "PathPolicies",
    "get_path_policies",
    "iter_views",
    "locale_language",
    "locale_middleware_installed",
    "report_urlconf_set_below",
    "request_policy",
    "reset_path_policies",
    "resolve_view",
    "routes_depend_on_language",
    "view_policy",
]

#: Most paths :class:`PathPolicies` remembers, and the longest it remembers.
#: 1,024 paths of at most 512 characters: at most about half a megabyte.
PATH_BOUND = 1024
MAX_CACHED_PATH = 512


def view_policy(view: object) -> str:
    """The policy a view callback names: the decorator's, else its class's ``cors_policy``, else the default."""
    name = getattr(view, "cors_policy", None)
    if isinstance(name, str):
        return name
    # Django's View.as_view() sets view_class; DRF's viewsets' as_view() sets only cls.
    for attribute in ("view_class", "cls"):
        name = getattr(getattr(view, attribute, None), "cors_policy", None)
        if isinstance(name, str):
            return name
    return DEFAULT_POLICY


def resolve_view(path: str, urlconf: Any = None) -> object | None:
    """The view callback ``path`` resolves to in ``urlconf`` (the project's by default), else ``None``."""
    try:
        return get_resolver(urlconf).resolve(path).func
    except Resolver404:
        return None


def locale_middleware_installed() -> bool:
    """Whether ``LocaleMiddleware`` (or a subclass) is in ``MIDDLEWARE``: it then picks each request's language."""
    from django.middleware.locale import LocaleMiddleware

    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            if issubclass(import_string(path), LocaleMiddleware):
                return True
        except (ImportError, TypeError):
            continue  # Not a class, or not importable: Django itself reports that.
    return False


def locale_language(path: str, urlconf: Any = None, request: HttpRequest | None = None) -> str:
    """The language ``LocaleMiddleware`` activates for a request to ``path``, without activating it.

    Its own rule (``LocaleMiddleware.process_request``): under
    ``i18n_patterns`` the path's language prefix; a path without one means
    ``LANGUAGE_CODE`` when the default language has no prefix; otherwise the
    request's language cookie, then ``Accept-Language``, then
    ``LANGUAGE_CODE``.  Without a request (``explain``), ``LANGUAGE_CODE``
    stands for the cookie and the header.
    """
    # The URLconf as LocaleMiddleware names it, so the two share Django's cached answer.
    i18n_used, prefixed_default = is_language_prefix_patterns_used(
        settings.ROOT_URLCONF if urlconf is None else urlconf
    )
    if i18n_used:
        from_path = translation.get_language_from_path(path)
        if from_path:
            return from_path
        if not prefixed_default:
            return str(settings.LANGUAGE_CODE)
    if request is None:
        return str(settings.LANGUAGE_CODE)
    # The path named no language: the cookie, then Accept-Language (a preflight carries no cookie).
    return translation.get_language_from_request(request)


def report_urlconf_set_below(request: HttpRequest, seen: Any) -> None:
    """Log (rate-limited) that a middleware below credcors changed ``request.urlconf`` from ``seen``.

    Called after the actual request when ``request.urlconf`` is no longer
    what credcors saw before calling the rest of the chain.  Its preflights,
    answered before that middleware runs, resolved their view elsewhere.
    """
    urlconf = getattr(request, "urlconf", None)
    root = settings.ROOT_URLCONF
    if (root if urlconf is None else urlconf) != (root if seen is None else seen):
        log_urlconf_set_below(urlconf, root if seen is None else seen)


def request_policy(request: HttpRequest) -> str:
    """The policy of the view Django resolved for ``request`` (after it ran); the default when none was."""
    match = request.resolver_match
    return DEFAULT_POLICY if match is None else view_policy(match.func)


class PathPolicies:
    """Policy per ``path_info`` for preflights: at most one resolve per path, within a bound.

    Only paths that resolve are kept, and none longer than
    :data:`MAX_CACHED_PATH`.  When :data:`PATH_BOUND` paths are kept the
    cache is emptied before the next is added, so a flood of distinct paths
    can neither grow it nor make a remembered path cost more than one
    resolve again.  A hit is one dict lookup without a lock (dict reads are
    atomic under the GIL); a miss resolves, then stores under a lock so the
    bound holds with any number of threads.

    A path is resolved, and kept, in the language Django will resolve the
    actual request in (:meth:`language`), so ``i18n_patterns`` and translated
    routes reach the same view as the actual request, whatever language the
    thread's previous request left active.  The key holds that language:
    with ``LocaleMiddleware`` it comes from the path and the settings (from
    ``Accept-Language`` only where neither decides); without it, it is the
    thread's, as for the actual request.  Languages are those of
    ``LANGUAGES``, so the key gives a flood no more room.  A URLconf whose
    routes name no language (:func:`routes_depend_on_language`, found once
    per URLconf) is resolved and kept without one.  Measured on a shared
    2-core machine: a hit costs about 0.5 µs there (0.2 µs when the key held
    no language); under ``i18n_patterns`` 3 to 8 µs, Django's reading of the
    path's language, where ``LocaleMiddleware.process_request`` costs 11 to
    33 µs for the same request.
    """

    def __init__(self, bound: int = PATH_BOUND) -> None:
        self.bound = bound
        self._policies: dict[tuple[Any, str | None, str], str] = {}
        # URLconf -> whether its routes depend on the active language (bounded like the paths).
        self._by_language: dict[Any, bool] = {}
        self._lock = threading.Lock()
        # Whether LocaleMiddleware picks the language: read from MIDDLEWARE on first use.
        self._locale: bool | None = None
        #: How many resolves the cache did (its misses); for tests and the benchmark.
        self.resolves = 0

    def __len__(self) -> int:
        return len(self._policies)

    def clear(self) -> None:
        with self._lock:
            self._policies.clear()
            self._by_language.clear()
            self._locale = None

    def language(self, path: str, urlconf: Any = None, request: HttpRequest | None = None) -> str | None:
        """The language Django resolves the actual request to ``path`` in, where the URLconf's routes depend on one.

        ``LocaleMiddleware``'s pick when it is installed (:func:`locale_language`),
        else the thread's; ``None`` for a URLconf whose routes name no language.
        """
        by_language = self._by_language.get(urlconf)
        if by_language is None:
            by_language = routes_depend_on_language(urlconf)
            with self._lock:
                if len(self._by_language) >= self.bound:
                    self._by_language.clear()
                self._by_language[urlconf] = by_language
        if not by_language:
            return None
        locale = self._locale
        if locale is None:
            locale = self._locale = locale_middleware_installed()
        return locale_language(path, urlconf, request) if locale else translation.get_language()

    def view(self, path: str, urlconf: Any = None) -> object | None:
        """The view a request to ``path`` reaches, resolved as :meth:`policy` does but not kept (``explain``)."""
        return _resolve_in(path, urlconf, self.language(path, urlconf))

    def policy(self, request: HttpRequest) -> str:
        """The policy of the view ``request.path_info`` resolves to; the default when it resolves to none."""
        # A middleware above may route this request through another URLconf.
        urlconf = getattr(request, "urlconf", None)
        path = request.path_info
        language = self.language(path, urlconf, request)
        key = (urlconf, language, path)
        name = self._policies.get(key)
        if name is not None:
            return name
        self.resolves += 1
        view = _resolve_in(path, urlconf, language)
        if view is None:
            return DEFAULT_POLICY  # Not kept: a flood of 404s cannot push out paths that exist.
        name = view_policy(view)
        if len(path) <= MAX_CACHED_PATH:
            with self._lock:
                if len(self._policies) >= self.bound:
                    self._policies.clear()
                self._policies[key] = name
        return name


def routes_depend_on_language(urlconf: Any = None) -> bool:
    """Whether which view a path reaches in ``urlconf`` can depend on the active language.

    It can under ``i18n_patterns`` (``LocalePrefixPattern``) and with a
    translated route (a lazy string, which Django compiles once per
    language).  A pattern class other than Django's counts as depending on
    it: resolving in the right language is always right, only slower.
    """

    def depends(patterns: Any) -> bool:
        for pattern in patterns:
            kind = pattern.pattern
            if isinstance(kind, RoutePattern):
                text = getattr(kind, "_route", None)
            elif isinstance(kind, RegexPattern):
                text = getattr(kind, "_regex", None)
            else:
                return True  # LocalePrefixPattern, or a class of another package.
            if not isinstance(text, str):
                return True  # Django's own test (LocaleRegexDescriptor): compiled per language.
            if isinstance(pattern, URLResolver) and depends(pattern.url_patterns):
                return True
        return False

    return depends(get_resolver(urlconf).url_patterns)


def _resolve_in(path: str, urlconf: Any, language: str | None) -> object | None:
    if language is None:
        return resolve_view(path, urlconf)
    # Activated for the resolve only: the thread's language is left as it was.
    with translation.override(language):
        return resolve_view(path, urlconf)


#: The process-wide cache the middleware uses, made on first use and emptied
#: when the settings it depends on change.  It starts no thread, and a
#: forked child keeps the parent's entries, which stay right for it.
PATH_POLICIES: Lazy[PathPolicies] = Lazy("path policies", PathPolicies)
get_path_policies = PATH_POLICIES.get
reset_path_policies = PATH_POLICIES.reset


def iter_views(urlconf: str | None = None) -> Iterator[tuple[str, object]]:
    """Every (route, view callback) of a URLconf, included ones too."""

    def walk(patterns: Any, prefix: str) -> Iterator[tuple[str, object]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):  # pragma: no branch - Django has no third kind.
                yield prefix + str(pattern.pattern), pattern.callback

    yield from walk(get_resolver(urlconf).url_patterns, "")
