"""Helpers the test modules share: one home for each, instead of a copy per file."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.test import Client


def staff_client(*codenames: str) -> Client:
    """A client logged in as staff holding only these credcors permissions (``add_allowedorigin`` ...)."""
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="credcors", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client
