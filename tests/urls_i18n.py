"""Views that name CORS policies under ``i18n_patterns`` (tests/test_routing.py).

``LocalePrefixPattern`` matches on the active language, so which view a path
reaches depends on the language ``LocaleMiddleware`` activated for it.
"""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path

from tests import urls, urls_policies

urlpatterns = [
    *i18n_patterns(
        path("api/partner", urls_policies.PartnerView.as_view()),
        path("api/status", urls_policies.public_status),
        prefix_default_language=False,
    ),
    # An older route outside i18n_patterns, shadowed while the language matches
    # the prefix: resolved in another language, /fr/api/partner reaches this
    # view of the default policy instead of the partners' view.
    re_path(r"^[a-z]{2}/api/partner$", urls.recorded),
    path("", include("tests.urls")),
]
