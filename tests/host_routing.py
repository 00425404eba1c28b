"""A host-routing middleware, as django-hosts or django-tenants install: it sets ``request.urlconf``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest

#: The host this middleware routes to :data:`PARTNER_URLCONF`; every other host keeps ROOT_URLCONF.
PARTNER_HOST = "partners.testserver"
PARTNER_URLCONF = "tests.urls_policies"


class HostUrlconfMiddleware:
    sync_capable = True
    async_capable = True  # So credcors above it runs in async mode under ASGI too.

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if request.get_host() == PARTNER_HOST:
            request.urlconf = PARTNER_URLCONF
        return self.get_response(request)  # A response, or under ASGI the awaitable of one.
