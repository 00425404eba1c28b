"""A small JSON API that needs the user's session cookie."""

from __future__ import annotations

import json

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_GET, require_http_methods, require_POST

_notes: list[str] = []


@require_GET
def csrf(request: HttpRequest) -> HttpResponse:
    """Hands the front end a CSRF token to send back in X-CSRFToken."""
    return JsonResponse({"csrfToken": get_token(request)})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the refusal as JSON, with Django's reason in words.

    Django's own failure view answers with an HTML page meant for browsers
    that submitted a form; a script calling an API wants something it can
    show ("CSRF token missing.").  The reasons name no secret.
    """
    return JsonResponse({"error": "CSRF verification failed", "reason": reason}, status=403)


@require_POST
def login_view(request: HttpRequest) -> HttpResponse:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "send JSON"}, status=400)
    user = authenticate(request, username=data.get("username", ""), password=data.get("password", ""))
    if user is None:
        return JsonResponse({"error": "wrong username or password"}, status=401)
    login(request, user)
    return JsonResponse({"username": user.get_username(), "csrfToken": get_token(request)})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return JsonResponse({"ok": True})


@require_GET
def me(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not logged in"}, status=401)
    return JsonResponse({"username": request.user.get_username(), "secret": f"private data of {request.user}"})


@require_http_methods(["GET", "PUT", "POST"])
def notes(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not logged in"}, status=401)
    if request.method in ("PUT", "POST"):
        try:
            text = str(json.loads(request.body)["text"])[:200]
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": 'send {"text": "..."}'}, status=400)
        _notes.append(text)
    return JsonResponse({"notes": _notes})
