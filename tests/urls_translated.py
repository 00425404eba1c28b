"""Translated routes without ``i18n_patterns`` (tests/test_routing.py).

A route given as a lazy string is compiled once per active language, as
``gettext_lazy("...")`` routes are; :func:`translated` stands in for a
message catalogue.
"""

from __future__ import annotations

from django.urls import include, path
from django.utils.functional import lazy
from django.utils.translation import get_language

from tests import urls_policies


def _pick(routes: dict[str, str]) -> str:
    return routes.get(get_language() or "", routes["en"])


def translated(routes: dict[str, str]) -> str:
    """A route that reads ``routes[language]`` in the active language (English where it has none)."""
    return lazy(_pick, str)(routes)


#: The partners' view: /api/partner in English, /api/partenaire in French, /api/partnerin in German.
PARTNER_ROUTE = {"en": "api/partner", "fr": "api/partenaire", "de": "api/partnerin"}

partner_routes = [path(translated(PARTNER_ROUTE), urls_policies.PartnerView.as_view())]

urlpatterns = [
    path("", include(partner_routes)),  # Nested: the translated route is found inside an include.
    path("", include("tests.urls")),
]
