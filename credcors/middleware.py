"""The Django adapter: gathers the request's CORS inputs, writes the decision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers

from credcors.conf import get_config
from credcors.core.config import Config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.decide import decide
from credcors.core.decision import Decision, Reason
from credcors.core.diagnose.reasons import reason_line
from credcors.core.snapshot import Snapshot
from credcors.hosting import request_host
from credcors.log import DEBUG_REASON_HEADER, log_refusal
from credcors.refused.flush import get_refused_log
from credcors.routing import get_path_policies, report_urlconf_set_below, request_policy
from credcors.store.current import get_store

__all__ = ["CredCorsMiddleware"]

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


class CredCorsMiddleware:
    """Answers CORS preflights and adds credential-safe headers to responses.

    Put it near the top of ``MIDDLEWARE``, above ``CommonMiddleware`` and
    anything else that can answer a request early.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    # Sync and async take the same steps: the request's inputs, _before_view
    # (a preflight's whole answer), the view, _after_view (the headers of an
    # actual request's answer); only the snapshot's fetch and the view are awaited.

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        config = get_config()
        if not config.applies_to(request.path_info):
            return self._respond(request)
        origin: str | None = request.META.get("HTTP_ORIGIN")
        if origin is None:  # Not a CORS request; its answer still varies on Origin.
            return _finish(request, None, None, self._respond(request))
        snapshot = get_store().get()
        answered = _before_view(request, config, snapshot, origin)
        if answered is not None:
            return answered
        urlconf = getattr(request, "urlconf", None)
        return _after_view(request, config, snapshot, origin, urlconf, self._respond(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        config = get_config()
        if not config.applies_to(request.path_info):
            return await self._arespond(request)
        origin: str | None = request.META.get("HTTP_ORIGIN")
        if origin is None:  # Not a CORS request; its answer still varies on Origin.
            return _finish(request, None, None, await self._arespond(request))
        snapshot = await get_store().aget()
        answered = _before_view(request, config, snapshot, origin)
        if answered is not None:
            return answered
        urlconf = getattr(request, "urlconf", None)
        return _after_view(request, config, snapshot, origin, urlconf, await self._arespond(request))

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return response

    async def _arespond(self, request: HttpRequest) -> HttpResponseBase:
        awaitable = self.get_response(request)
        assert not isinstance(awaitable, HttpResponseBase)
        return await awaitable


def _before_view(request: HttpRequest, config: Config, snapshot: Snapshot, origin: str) -> HttpResponseBase | None:
    """A preflight's whole answer (the view never runs for one, Fetch §4.8), else ``None``: the view runs."""
    # Fetch §3.2.2: a preflight is OPTIONS with Origin and Access-Control-Request-Method.
    if request.method != "OPTIONS" or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in request.META:
        return None
    # Resolved from the path, through the bounded per-path cache: no view ran.
    policy = get_path_policies().policy(request) if config.views_name_policies else DEFAULT_POLICY
    decision = _decide(snapshot, request, origin, policy)
    return _finish(request, snapshot, decision, HttpResponse(status=decision.status), policy)


def _after_view(
    request: HttpRequest,
    config: Config,
    snapshot: Snapshot,
    origin: str,
    urlconf: object,
    response: HttpResponseBase,
) -> HttpResponseBase:
    """The headers of an actual request's answer, decided under the policy of the view that ran."""
    # Without POLICIES every view is the default policy's (a view naming
    # another is credcors.E020), so nothing needs its resolved view, and a
    # URLconf set below credcors changes no preflight's answer.
    policy = DEFAULT_POLICY
    if config.views_name_policies:
        if getattr(request, "urlconf", None) is not urlconf:
            report_urlconf_set_below(request, urlconf)
        policy = request_policy(request)
    return _finish(request, snapshot, _decide(snapshot, request, origin, policy), response, policy)


def _decide(snapshot: Snapshot, request: HttpRequest, origin: str, policy: str = DEFAULT_POLICY) -> Decision:
    meta = request.META
    return decide(
        snapshot,
        request.method or "",
        origin,
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
        policy,
        # Read once, as Django validates it: "" for a host it refuses, which nothing allows.
        request_host(request) or "",
    )


def _finish(
    request: HttpRequest,
    snapshot: Snapshot | None,
    decision: Decision | None,
    response: HttpResponseBase,
    policy: str = DEFAULT_POLICY,
) -> HttpResponseBase:
    """The one last step of the sync and async paths: headers, refusal report, ``Vary``."""
    if decision is not None:
        headers = response.headers
        for name, value in decision.headers:
            headers[name] = value
        if not decision.allowed:
            assert snapshot is not None
            _report_refusal(request, decision, snapshot, response, policy)
    # Every answer under URLS_REGEX depends on Origin, refusals and requests
    # without one included, so shared caches must key on it.
    if response.has_header("Vary"):
        patch_vary_headers(response, ("Origin",))
    else:
        response.headers["Vary"] = "Origin"
    return response


def _report_refusal(
    request: HttpRequest, decision: Decision, snapshot: Snapshot, response: HttpResponseBase, policy: str
) -> None:
    # Only refusals get here, and log_refusal checks logger.isEnabledFor
    # before any other work, so allowed requests never pay for diagnostics.
    origin = request.META["HTTP_ORIGIN"]
    log_refusal(decision, origin, request.path)
    config = get_config()
    refused = config.refused
    if refused.record and decision.reason is Reason.ORIGIN_NOT_ALLOWED and _cross_origin(request, origin):
        # Counted in memory (no I/O here); a background thread writes the
        # counts to RefusedOrigin, with the policy that refused it and the
        # host it refused it on (remembered by _decide's read: a dict lookup).
        get_refused_log().record(origin, request.path, policy, refused, serialized=True, host=request_host(request))
    # settings.DEBUG as parsed with the config (a change of it parses again):
    # reading django.conf.settings costs 0.3 µs a time through its lazy proxy.
    if config.debug:
        # Development aid: the browser's network panel shows why.  Request
        # input only ever appears bounded and escaped (see reason_line).
        response.headers[DEBUG_REASON_HEADER] = reason_line(decision, snapshot.headers_of(policy), policy)


def _cross_origin(request: HttpRequest, origin: str) -> bool:
    # Browsers send Origin on same-origin POSTs too (the admin's own forms):
    # refused, harmless, and nothing for staff to approve.
    meta = request.META
    site = meta.get("HTTP_SEC_FETCH_SITE")
    if site == "same-origin":
        return False
    if site == "same-site" or site == "cross-site":
        return True  # What browsers say of every cross-origin request: no need to work out our own origin.
    return origin != f"{request.scheme}://{meta.get('HTTP_HOST', '')}"
