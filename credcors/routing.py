"""Which policy a request's view names: resolved views, and a bounded per-path cache for preflights.

An actual request reaches its view, so the middleware reads the view Django
resolved (``request.resolver_match``) after it ran: no second resolve.  A
preflight never reaches the view, so the middleware resolves
``request.path_info`` itself, through :data:`path_policies`.  Matching the
view Django resolved, never the raw path string, is what keeps ``../`` and
``+`` tricks (flask-cors CVE-2020-25032, CVE-2024-6844) out: a path picks
whatever policy the view it reaches has.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import Resolver404

from credcors.snapshot import DEFAULT_POLICY

__all__ = ["PathPolicies", "iter_views", "path_policies", "request_policy", "resolve_view", "view_policy"]

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
    """

    def __init__(self, bound: int = PATH_BOUND) -> None:
        self.bound = bound
        self._policies: dict[tuple[Any, str], str] = {}
        self._lock = threading.Lock()
        #: How many resolves the cache did (its misses); for tests and the benchmark.
        self.resolves = 0

    def __len__(self) -> int:
        return len(self._policies)

    def clear(self) -> None:
        with self._lock:
            self._policies.clear()

    def policy(self, request: HttpRequest) -> str:
        """The policy of the view ``request.path_info`` resolves to; the default when it resolves to none."""
        # A middleware above may route this request through another URLconf.
        urlconf = getattr(request, "urlconf", None)
        path = request.path_info
        key = (urlconf, path)
        name = self._policies.get(key)
        if name is not None:
            return name
        self.resolves += 1
        view = resolve_view(path, urlconf)
        if view is None:
            return DEFAULT_POLICY  # Not kept: a flood of 404s cannot push out paths that exist.
        name = view_policy(view)
        if len(path) <= MAX_CACHED_PATH:
            with self._lock:
                if len(self._policies) >= self.bound:
                    self._policies.clear()
                self._policies[key] = name
        return name


#: The process-wide cache the middleware uses (emptied when ROOT_URLCONF or CREDCORS change).
path_policies = PathPolicies()


def iter_views(urlconf: str | None = None) -> Iterator[tuple[str, object]]:
    """Every (route, view callback) of a URLconf, included ones too."""

    def walk(patterns: Any, prefix: str) -> Iterator[tuple[str, object]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):  # pragma: no branch - Django has no third kind.
                yield prefix + str(pattern.pattern), pattern.callback

    yield from walk(get_resolver(urlconf).url_patterns, "")
