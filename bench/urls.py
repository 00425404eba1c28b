"""One trivial view: the full-stack level measures Django plus the middleware."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from credcors.decorators import cors_policy


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


@cors_policy("public")
def status(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [path("api/ping", ping), path("api/status", status)]
