from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def echo(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"method": request.method, "user": str(request.user)})
    response["X-Request-Id"] = "42"
    return response


def cached(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response["Vary"] = "Accept-Encoding"
    return response


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/echo", echo),
    path("api/cached", cached),
    path("api/async", async_view),
    path("public/echo", echo),
]
