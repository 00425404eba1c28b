"""Turn django-cors-headers ``CORS_*`` settings into the equivalent ``CREDCORS`` dict.

Pure logic for ``manage.py credcors convert-settings``: it reads a settings-like
object (``django.conf.settings``, a module, any object with attributes) or a
mapping, and returns the ``CREDCORS`` dict as Python source plus a list of
findings: what credcors refuses or does differently, and why.

Origins and origin regexes are converted by :mod:`credcors.convert.origins`
through :func:`credcors.core.origins.parse_rule`, and every other value goes
through :func:`credcors.core.config.parse_config`, the validators the middleware
uses, so the produced dict passes the system checks by construction;
whatever they refuse is left out (fail closed) and reported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from credcors.convert.origins import OriginConverter
from credcors.convert.reading import KNOWN_SETTINGS, MISSING, Conversion
from credcors.core.config import DEFAULTS
from credcors.core.config.policies import MAX_PREFLIGHT_AGE

__all__ = ["convert_settings"]

_MATCH_EVERY_PATH = frozenset({"", "^", ".*", "^.*", "^.*$", ".*$", "^.+", "^.+$"})


def convert_settings(source: object, *, signal_receivers: int | None = None) -> Conversion:
    """Convert the ``CORS_*`` values of ``source`` (settings object or mapping).

    ``signal_receivers`` is the number of receivers connected to
    django-cors-headers' ``check_request_enabled`` signal; ``None`` looks it up
    when ``corsheaders`` is already imported, and counts 0 otherwise.
    """
    converter = _Converter(source)
    converter.run(_count_signal_receivers() if signal_receivers is None else signal_receivers)
    # Keys in the order of the configuration reference.
    credcors = {key: converter.result[key] for key in DEFAULTS if key in converter.result}
    return Conversion(credcors=credcors, findings=converter.findings)


class _Converter(OriginConverter):
    def run(self, signal_receivers: int) -> None:
        self.unknown_settings()
        credentials = self.credentials()
        self.allow_all(credentials)
        origins = self.origins(credentials) + self.regexes(credentials)
        self.result["ALLOWED_ORIGINS"] = list(dict.fromkeys(origins))
        self.duplicates(origins)
        self.urls_regex()
        self.token_list("CORS_ALLOW_METHODS", "ALLOW_METHODS", credentials)
        self.token_list("CORS_ALLOW_HEADERS", "ALLOW_HEADERS", credentials)
        self.token_list("CORS_EXPOSE_HEADERS", "EXPOSE_HEADERS", credentials)
        self.max_age()
        self.private_network()
        self.replace_https_referer()
        if signal_receivers:
            self.find(
                "check_request_enabled",
                signal_receivers,
                "unsupported",
                "django-cors-headers' check_request_enabled signal has receivers; credcors has no per-request hook, "
                "on purpose: the allow-list is compiled once and a request's decision never runs your code.",
                "Put origins decided at run time in the AllowedOrigin table (the admin, or "
                "AllowedOrigin.objects.create()).",
            )
        if not self.result["ALLOWED_ORIGINS"]:
            self.find(
                "CREDCORS",
                self.result["ALLOWED_ORIGINS"],
                "note",
                "No origin was converted, so only rows of the AllowedOrigin table will be allowed.",
                "Add origins in the admin, or list them in ALLOWED_ORIGINS.",
            )

    def unknown_settings(self) -> None:
        names = self.source.keys() if isinstance(self.source, Mapping) else dir(self.source)
        for name in sorted(str(name) for name in names):
            if name.startswith("CORS_") and name not in KNOWN_SETTINGS:
                self.find(
                    name,
                    self.get(name),
                    "note",
                    "Not a django-cors-headers 4.x setting (a typo?); it did nothing there and is not converted.",
                )

    def credentials(self) -> bool:
        value = self.get("CORS_ALLOW_CREDENTIALS")
        if value is MISSING:
            value = False
            self.find(
                "CORS_ALLOW_CREDENTIALS",
                None,
                "note",
                "Not set, so django-cors-headers sent no credentials header; credcors defaults to True, "
                'so "ALLOW_CREDENTIALS": False is written to keep the old behaviour.',
                "Set it to True if your front end calls the API with credentials (cookies, HTTP auth).",
            )
        elif not isinstance(value, bool):
            self.find(
                "CORS_ALLOW_CREDENTIALS",
                value,
                "refused",
                "Not True or False; read as False.",
                "Write True or False.",
            )
            value = False
        self.result["ALLOW_CREDENTIALS"] = value
        return value

    def allow_all(self, credentials: bool) -> None:
        name, value = self.get_aliased("CORS_ALLOW_ALL_ORIGINS")
        if value is MISSING or not value:
            return
        if credentials:
            self.find(
                name,
                value,
                "refused",
                "Allowing every origin is refused on purpose: with credentials, django-cors-headers echoes any "
                "Origin, so every site on the internet can read your users' responses. Only the origins listed "
                "below are allowed.",
                "List each front-end origin (or https://*.yourdomain patterns); for endpoints that are truly "
                'public, add a policy with "ALLOW_ALL_ORIGINS": True and "ALLOW_CREDENTIALS": False and mark '
                "those views with @cors_policy (see Policies per view).",
            )
            return
        # Without credentials django-cors-headers answered '*' on every path
        # under CORS_URLS_REGEX.  credcors can say the same per view, through
        # a public policy, but not for every view at once: the default policy
        # never allows all origins, and which views were meant to be public
        # is not in the settings.
        self.result["POLICIES"] = {"public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False}}
        where = self.get("CORS_URLS_REGEX")
        paths = f"the views under CORS_URLS_REGEX {where!r}" if isinstance(where, str) else "the views that are public"
        self.find(
            name,
            value,
            "changed",
            "Converted to a policy \"public\" that answers every origin with '*' and no credentials; the default "
            "policy cannot allow all origins, so views answer it only once they name it.",
            f'Mark {paths} with @cors_policy("public") (from credcors.decorators) or a cors_policy = "public" '
            "class attribute.",
        )

    def urls_regex(self) -> None:
        value = self.get("CORS_URLS_REGEX")
        if value is MISSING:
            return
        if isinstance(value, re.Pattern):
            flags = value.flags & ~re.UNICODE
            inline = "".join(letter for flag, letter in _INLINE_FLAGS if flags & flag)
            value = f"(?{inline}){value.pattern}" if inline else value.pattern
        if isinstance(value, str) and value in _MATCH_EVERY_PATH:
            return  # django-cors-headers' default; credcors' None means the same.
        self.checked("CORS_URLS_REGEX", "URLS_REGEX", value, value)

    def token_list(self, name: str, key: str, credentials: bool) -> None:
        values = self.get(name)
        if values is MISSING:
            return
        if isinstance(values, str) or not isinstance(values, (list, tuple)):
            self.find(name, values, "refused", f"Not a list of strings; credcors' default {DEFAULTS[key]!r} is used.")
            return
        kept = [
            value for value in values if self.checked(name, key, [value], None, credentials=credentials, shown=value)
        ]
        self.result[key] = list(dict.fromkeys(kept))

    def max_age(self) -> None:
        value = self.get("CORS_PREFLIGHT_MAX_AGE")
        if value is MISSING:
            self.find(
                "CORS_PREFLIGHT_MAX_AGE",
                None,
                "note",
                f"Not set: django-cors-headers cached preflights for 86400 s, credcors for "
                f"{DEFAULTS['PREFLIGHT_MAX_AGE']} s, so a disabled origin loses access sooner.",
            )
            return
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_PREFLIGHT_AGE:
            self.find(
                "CORS_PREFLIGHT_MAX_AGE",
                value,
                "changed",
                f"Lowered to {MAX_PREFLIGHT_AGE}, the most any browser honours (Chromium caps at 7200).",
            )
            value = MAX_PREFLIGHT_AGE
        self.checked("CORS_PREFLIGHT_MAX_AGE", "PREFLIGHT_MAX_AGE", value, value)

    def private_network(self) -> None:
        value = self.get("CORS_ALLOW_PRIVATE_NETWORK")
        if value is MISSING or not value:
            return
        self.find(
            "CORS_ALLOW_PRIVATE_NETWORK",
            value,
            "unsupported",
            "credcors never sends Access-Control-Allow-Private-Network, so Chromium's Private Network Access "
            "preflights from public sites to this server are refused.",
            "Serve the API on a public address, or keep django-cors-headers in front of the private paths only.",
        )

    def replace_https_referer(self) -> None:
        value = self.get("CORS_REPLACE_HTTPS_REFERER")
        if value is MISSING:
            return
        self.find(
            "CORS_REPLACE_HTTPS_REFERER",
            value,
            "unsupported",
            "Removed in django-cors-headers 4.0 (with CorsPostCsrfMiddleware); it did nothing there.",
            "For cross-origin unsafe requests with CSRF protection, use CSRF_TRUSTED_ORIGINS or "
            'CREDCORS["TRUST_FOR_CSRF"].',
        )


_INLINE_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"), (re.ASCII, "a"))


def _count_signal_receivers() -> int:
    # Only look if the app already imported it: the converter must not import
    # django-cors-headers (it may not be installed) or change anything.
    module = sys.modules.get("corsheaders.signals")
    signal = getattr(module, "check_request_enabled", None)
    receivers = getattr(signal, "receivers", None)
    return len(receivers) if isinstance(receivers, list) else 0
