"""Django REST framework views that name CORS policies: the example of docs/policies.md, run by the tests."""

from __future__ import annotations

from django.urls import include, path
from rest_framework import routers, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.views import APIView

from credcors.decorators import cors_policy


class StatusView(APIView):
    cors_policy = "public"

    def get(self, request):
        return Response({"status": "ok"})


class OrderViewSet(viewsets.ViewSet):
    cors_policy = "partners"

    def list(self, request):
        return Response([{"id": 1}])

    def retrieve(self, request, pk=None):
        return Response({"id": pk})


# @cors_policy goes above @api_view: it marks the view that @api_view returns.
@cors_policy("public")
@api_view(["GET"])
def ping(request):
    return Response({"pong": True})


router = routers.SimpleRouter()
router.register("drf/orders", OrderViewSet, basename="order")

urlpatterns = [
    path("drf/status", StatusView.as_view()),
    path("drf/ping", ping),
    path("", include(router.urls)),
]
