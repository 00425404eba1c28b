"""The Django adapter: gathers the request's CORS inputs, writes the decision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers

from credcors.conf import get_config
from credcors.log import DEBUG_REASON_HEADER, debug_reason, log_refusal
from credcors.policy import Decision, Kind, Policy, decide
from credcors.store import store

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

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        if not get_config().applies_to(request.path_info):
            return self.get_response(request)
        origin = request.META.get("HTTP_ORIGIN")
        if origin is None:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
            return _vary_on_origin(response)
        policy = store.get()
        decision = _decide(policy, request, origin)
        if decision.kind is Kind.PREFLIGHT:
            response = _preflight_response(decision)
        else:
            response = _apply(self.get_response(request), decision)  # type: ignore[arg-type]
        if not decision.allowed:
            _refused(request, origin, decision, policy, response)
        return _vary_on_origin(response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if not get_config().applies_to(request.path_info):
            return await self.get_response(request)  # type: ignore[misc, no-any-return]
        origin = request.META.get("HTTP_ORIGIN")
        if origin is None:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
            return _vary_on_origin(response)
        policy = await store.aget()
        decision = _decide(policy, request, origin)
        if decision.kind is Kind.PREFLIGHT:
            response = _preflight_response(decision)
        else:
            response = _apply(await self.get_response(request), decision)  # type: ignore[misc]
        if not decision.allowed:
            _refused(request, origin, decision, policy, response)
        return _vary_on_origin(response)


def _decide(policy: Policy, request: HttpRequest, origin: str) -> Decision:
    meta = request.META
    return decide(
        policy,
        request.method or "",
        origin,
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
        meta.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
    )


def _refused(request: HttpRequest, origin: str, decision: Decision, policy: Policy, response: HttpResponseBase) -> None:
    # Only refusals get here, and log_refusal checks logger.isEnabledFor
    # before any other work, so allowed requests never pay for diagnostics.
    log_refusal(decision, origin, request.path)
    if settings.DEBUG:
        # Development aid: the browser's network panel shows why.  Request
        # input only ever appears bounded and escaped (see log.debug_reason).
        response.headers[DEBUG_REASON_HEADER] = debug_reason(decision, policy)


def _preflight_response(decision: Decision) -> HttpResponse:
    # Fetch §4.8: the preflight must be answered with an ok status (2xx) for
    # the browser to go on; the view never runs for a preflight.
    response = HttpResponse(status=decision.status)
    for name, value in decision.headers:
        response.headers[name] = value
    return response


def _apply(response: HttpResponseBase, decision: Decision) -> HttpResponseBase:
    for name, value in decision.headers:
        response.headers[name] = value
    return response


def _vary_on_origin(response: HttpResponseBase) -> HttpResponseBase:
    # Every answer under URLS_REGEX depends on Origin, including refusals and
    # requests without one, so shared caches must key on it.
    if response.has_header("Vary"):
        patch_vary_headers(response, ("Origin",))
    else:
        response.headers["Vary"] = "Origin"
    return response
