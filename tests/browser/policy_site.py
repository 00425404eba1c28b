"""The example project's URLs plus views that name CORS policies (tests/browser/test_policies.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.views import View

from credcors.decorators import cors_policy
from example_project.urls import urlpatterns as example_urlpatterns


@cors_policy("public")
def public_status(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok", "cookie": bool(request.COOKIES)})


class PartnerView(View):
    cors_policy = "partners"

    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"partner": True, "cookie": bool(request.COOKIES)})


def private(request: HttpRequest) -> HttpResponse:
    """A view of the credentialed default policy."""
    return JsonResponse({"user": str(request.user)})


#: The writes that ran, by the policy of the view that ran them.
writes: list[str] = []


@cors_policy("writers")
def writer_token(request: HttpRequest) -> HttpResponse:
    """The token a writer's page sends back, read from a view of its own policy."""
    return JsonResponse({"csrfToken": get_token(request)})


@cors_policy("writers")
def writer_write(request: HttpRequest) -> HttpResponse:
    writes.append("writers")
    return JsonResponse({"written": True})


def private_write(request: HttpRequest) -> HttpResponse:
    """A credentialed write of the default policy (not csrf_exempt)."""
    writes.append("default")
    return JsonResponse({"written": True})


urlpatterns = [
    path("api/writers/token", writer_token),
    path("api/writers/write", writer_write),
    path("api/private/write", private_write),
    path("api/public/status", public_status),
    path("api/partner/data", PartnerView.as_view()),
    path("api/private", private),
    *example_urlpatterns,
]
