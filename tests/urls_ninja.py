"""A django-ninja API whose routes name a CORS policy: the example of docs/policies.md, run by the tests."""

from __future__ import annotations

from django.urls import URLPattern, path
from ninja import NinjaAPI

from credcors.decorators import cors_policy

public_api = NinjaAPI(urls_namespace="public-api", docs_url=None, openapi_url=None)


@public_api.get("/status")
def status(request):
    return {"status": "ok"}


@public_api.get("/items/{item_id}")
def item(request, item_id: int):
    return {"id": item_id}


def with_policy(name, urls):
    """Name the CORS policy of every route of a NinjaAPI's ``urls``."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            cors_policy(name)(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [path("ninja/public/", with_policy("public", public_api.urls))]
