"""A URLconf with views that name CORS policies (tests/core/test_policies.py and the browser tests)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from credcors.decorators import cors_policy
from tests import urls

VIEW_CALLS = urls.VIEW_CALLS


@cors_policy("public")
def public_status(request: HttpRequest) -> HttpResponse:
    VIEW_CALLS.append(request.method or "")
    return JsonResponse({"status": "ok", "user": str(request.user)})


@cors_policy("public")
async def public_async(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@method_decorator(csrf_exempt, name="dispatch")
class PartnerView(View):
    """A class-based view whose policy is a class attribute."""

    cors_policy = "partners"

    def get(self, request: HttpRequest, pk: int = 0) -> HttpResponse:
        VIEW_CALLS.append(request.method or "")
        return JsonResponse({"partner": True, "pk": pk})

    def post(self, request: HttpRequest, pk: int = 0) -> HttpResponse:
        return JsonResponse({"partner": True, "posted": True})


class CatalogueViewSet:
    """Stands in for a DRF viewset: its as_view() result carries only ``cls``."""

    cors_policy = "public"


def viewset_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"catalogue": []})


viewset_view.cls = CatalogueViewSet  # type: ignore[attr-defined]


@cors_policy("missing")
def misnamed(request: HttpRequest) -> HttpResponse:
    return JsonResponse({})


urlpatterns = [
    path("api/status", public_status),
    path("api/status-async", public_async),
    path("api/partner", PartnerView.as_view()),
    path("api/partner/<int:pk>", PartnerView.as_view()),
    path("api/catalogue", viewset_view),
    path("api/misnamed", misnamed),
    path("", include("tests.urls")),
]
