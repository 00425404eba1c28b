from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

#: Methods of the requests that reached :func:`recorded` (cleared per test by conftest).
VIEW_CALLS: list[str] = []


@csrf_exempt
def echo(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"method": request.method, "user": str(request.user)})
    response["X-Request-Id"] = "42"
    return response


def cached(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response["Vary"] = "Accept-Encoding"
    return response


@csrf_exempt
def recorded(request: HttpRequest) -> HttpResponse:
    # Proves whether a request reached the view (preflights must not).
    VIEW_CALLS.append(request.method or "")
    return HttpResponse("view ran", content_type="text/plain")


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async")


@csrf_exempt
async def async_recorded(request: HttpRequest) -> HttpResponse:
    VIEW_CALLS.append(request.method or "")
    return HttpResponse("async view ran", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/echo", echo),
    path("api/cached", cached),
    path("api/recorded", recorded),
    path("api/async", async_view),
    path("api/async-recorded", async_recorded),
    path("public/echo", echo),
    path("public/recorded", recorded),
]
