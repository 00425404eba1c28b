from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def ping(request: HttpRequest) -> HttpResponse:
    # A plain sync view, like most Django views: under ASGI it shares the one
    # thread that credcors refreshes in, as a real application's views would.
    return HttpResponse("pong", content_type="text/plain")


urlpatterns = [path("api/ping", ping)]
