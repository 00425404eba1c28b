"""The DRF and django-ninja examples beside the default-policy views of tests/urls.py."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("tests.urls_drf")),
    path("", include("tests.urls_ninja")),
    path("", include("tests.urls")),
]
