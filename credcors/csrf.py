"""Let Django's CSRF origin check trust the exact origins credcors allows, on the views of their policy.

Django's ``CsrfViewMiddleware`` refuses an unsafe request whose ``Origin`` is
neither the API's own host nor in ``CSRF_TRUSTED_ORIGINS``, so a front end
that credcors allows still gets 403 on every POST, and people then reach for
``csrf_exempt``.  :class:`CredCorsCsrfViewMiddleware` also accepts, for the
*origin* check only, an exact origin that the policy of the view being
called allows and trusts (``TRUST_FOR_CSRF`` for settings origins, each
``AllowedOrigin`` row's ``trust_for_csrf``).  Everything else Django checks
is unchanged: the CSRF cookie and the token in ``X-CSRFToken`` (or the form
field) are still required, ``*.`` patterns never extend CSRF trust, and a
policy without credentials trusts nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponseForbidden
from django.middleware.csrf import CsrfViewMiddleware

from credcors.conf import get_config
from credcors.hosting import request_host
from credcors.routing import view_policy
from credcors.store.current import get_store

__all__ = ["CredCorsCsrfViewMiddleware"]

# The view callback process_view is checking, for _origin_verified, which
# Django calls from there with the request alone.  A context variable, not a
# request attribute: it cannot outlive the call, and it is per thread and
# per task (Django's async handler runs process_view in a worker thread).
_checked_view: ContextVar[Callable[..., Any] | None] = ContextVar("credcors_checked_view", default=None)


class CredCorsCsrfViewMiddleware(CsrfViewMiddleware):
    """``CsrfViewMiddleware`` that also trusts the exact origins the view's CORS policy allows and trusts.

    Use it in place of ``django.middleware.csrf.CsrfViewMiddleware``.  Without
    ``TRUST_FOR_CSRF`` and without rows marked ``trust_for_csrf`` it behaves
    exactly like Django's middleware.
    """

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        marker = _checked_view.set(callback)
        try:
            return super().process_view(request, callback, callback_args, callback_kwargs)
        finally:
            _checked_view.reset(marker)

    def _origin_verified(self, request: HttpRequest) -> bool:
        # Overrides the private CsrfViewMiddleware._origin_verified(request),
        # the narrowest hook there is: Django (4.0 and later) calls it only
        # from process_view, for unsafe methods that carry an Origin header,
        # after csrf_exempt and before the token check.  Private API, so the
        # nox matrix runs tests/test_csrf.py on every supported Django release.
        if super()._origin_verified(request):  # type: ignore[misc]
            return True
        view = _checked_view.get()
        if view is None:
            return False  # Not called from process_view: whose policy applies is unknown, so trust nobody.
        # Only where credcors answers CORS at all: outside URLS_REGEX no page
        # of that origin can read responses, so it earns no trust there.
        if not get_config().applies_to(request.path_info):
            return False
        # Only the policy of the view written to: a partner's origin trusted
        # on its own views must not forge writes to the default policy's
        # credentialed views, which refuse it for CORS too (issue 21).  The
        # snapshot is the one CredCorsMiddleware already loaded for this
        # request, so this costs a dict lookup or two and no query.  An
        # origin scoped to hosts is trusted only on a request to one of them.
        host = request_host(request)
        return get_store().get().trusts_for_csrf(request.META["HTTP_ORIGIN"], view_policy(view), host)
