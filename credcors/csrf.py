"""Let Django's CSRF origin check trust the exact origins credcors allows.

Django's ``CsrfViewMiddleware`` refuses an unsafe request whose ``Origin`` is
neither the API's own host nor in ``CSRF_TRUSTED_ORIGINS``, so a front end
that credcors allows still gets 403 on every POST, and people then reach for
``csrf_exempt``.  With ``CREDCORS["TRUST_FOR_CSRF"] = True``,
:class:`CredCorsCsrfViewMiddleware` also accepts, for the *origin* check only,
the exact origins of the current allow-list snapshot (settings and enabled
``AllowedOrigin`` rows).  Everything else Django checks is unchanged: the CSRF
cookie and the token in ``X-CSRFToken`` (or the form field) are still
required, and ``*.`` patterns never extend CSRF trust.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from credcors.conf import get_config
from credcors.store import store

__all__ = ["CredCorsCsrfViewMiddleware"]


class CredCorsCsrfViewMiddleware(CsrfViewMiddleware):
    """``CsrfViewMiddleware`` that also trusts the exact origins credcors allows.

    Use it in place of ``django.middleware.csrf.CsrfViewMiddleware`` and set
    ``CREDCORS["TRUST_FOR_CSRF"] = True``.  With the setting off it behaves
    exactly like Django's middleware.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        # Overrides the private CsrfViewMiddleware._origin_verified(request),
        # the narrowest hook there is: Django (4.0 and later) calls it only for
        # unsafe methods that carry an Origin header, after csrf_exempt and
        # before the token check.  Private API, so the nox matrix runs
        # tests/test_csrf.py on every supported Django release.
        if super()._origin_verified(request):  # type: ignore[misc]
            return True
        config = get_config()
        # Only where credcors answers CORS at all: outside URLS_REGEX no page
        # of that origin can read responses, so it earns no trust there.
        if not config.applies_to(request.path_info):
            return False
        # The snapshot decides (exact origins only: see Snapshot.trusts_for_csrf).
        # It is the one CredCorsMiddleware already loaded for this request,
        # so this costs one dict lookup and no query.
        return store.get().trusts_for_csrf(request.META["HTTP_ORIGIN"])
