""":mod:`tests.urls_i18n` with ``prefix_default_language=True``: every language, the default too, has its prefix.

Beside it, a translated route without a prefix, which ``LocaleMiddleware``
resolves in the request's language (cookie, then ``Accept-Language``).
"""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path

from tests import urls, urls_policies, urls_translated

urlpatterns = [
    *i18n_patterns(
        path("api/partner", urls_policies.PartnerView.as_view()),
        path("api/status", urls_policies.public_status),
        prefix_default_language=True,
    ),
    re_path(r"^[a-z]{2}/api/partner$", urls.recorded),
    path("unprefixed/", include(urls_translated.partner_routes)),
    path("", include("tests.urls")),
]
