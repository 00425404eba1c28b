"""The example project's URLs plus views that name CORS policies (tests/browser/test_policies.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
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


urlpatterns = [
    path("api/public/status", public_status),
    path("api/partner/data", PartnerView.as_view()),
    path("api/private", private),
    *example_urlpatterns,
]
