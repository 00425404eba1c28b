"""Helpers the test modules share: one home for each, instead of a copy per file."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission, User
from django.test import Client


def staff_client(*codenames: str) -> Client:
    """A client logged in as staff holding only these credcors permissions (``add_allowedorigin`` ...)."""
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="credcors", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def send_preflight(
    client: Client, path: str, origin: str, method: str, request_headers: str | None = None, **headers: str
) -> Any:
    """An ``OPTIONS`` preflight from ``origin`` asking for ``method`` (and ``request_headers``, when given)."""
    sent = {"Origin": origin, "Access-Control-Request-Method": method, **headers}
    if request_headers is not None:
        sent["Access-Control-Request-Headers"] = request_headers
    return client.options(path, headers=sent)


def allowed(client: Client, origin: str, path: str = "/api/echo") -> bool:
    """Does a ``GET`` from ``origin`` come back with ``Access-Control-Allow-Origin`` naming it?"""
    response = client.get(path, headers={"Origin": origin})
    assert response.status_code == 200
    return bool(response.headers.get("Access-Control-Allow-Origin") == origin)
