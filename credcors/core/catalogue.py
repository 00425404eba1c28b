"""Every system check credcors reports: one id, one meaning, and the text of each problem.

The catalogue is the one list of ids; ``README``'s check table is tested
against it, and no id is ever reused for something else.  Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from credcors.core.quoting import safe

__all__ = ["CHECKS", "Problem", "allow_all_takes_no_rows", "key", "level_of", "rows_in_allow_all", "shadowed_trust"]

#: Check id -> what it means, in the words of the README's table.
CHECKS: Mapping[str, str] = {
    "credcors.E001": "`CREDCORS` is not a dict",
    "credcors.E002": "unknown key in `CREDCORS` (a typo; the hint suggests the closest key)",
    "credcors.E003": "a list key (`ALLOWED_ORIGINS`, `ALLOW_METHODS`, `ALLOW_HEADERS`, `EXPOSE_HEADERS`) "
    "is not a list of strings",
    "credcors.E004": "an entry of `ALLOWED_ORIGINS` is refused by the validator (among others a pattern over a "
    "public suffix or over public suffixes beneath it, such as `https://*.amazonaws.com`)",
    "credcors.E005": "`ALLOW_METHODS` has a forbidden method, `*`, or a non-token",
    "credcors.E006": "`ALLOW_HEADERS` has a forbidden request-header name, `*`, or a non-token",
    "credcors.E007": "`EXPOSE_HEADERS` has `*`, `Set-Cookie`, or a non-token",
    "credcors.E008": "`PREFLIGHT_MAX_AGE` is not a whole number within 0..86400",
    "credcors.E009": "`URLS_REGEX` does not compile (CORS then applies to no path)",
    "credcors.E010": "`REFRESH_SECONDS` is not a number within (0, 3600]",
    "credcors.E011": "the middleware is not in `MIDDLEWARE`",
    "credcors.E012": "the middleware is below `CommonMiddleware`",
    "credcors.E013": "`CACHE_ALIAS` is not in `CACHES`, or names a cache that processes do not share",
    "credcors.E014": '`SESSION_COOKIE_SAMESITE`/`CSRF_COOKIE_SAMESITE` is `"None"` without the matching `*_SECURE`: '
    "browsers refuse the cookie",
    "credcors.E015": "a True/False key (`ALLOW_CREDENTIALS`, `USE_DATABASE`, `ALLOW_INSECURE_ORIGINS`, "
    "`ALLOW_ALL_ORIGINS`, `RECORD_REFUSED`) is not a bool",
    "credcors.E016": "`CACHE_ALIAS` is neither a cache name (a string) nor `None`",
    "credcors.E017": "`POLICIES` is not a dict of policy name to dict, or a policy's name is not a short name "
    "(letters, digits, `_`, `-`, `.`), or is `default`",
    "credcors.E018": "unknown key in a policy of `POLICIES` (a typo, or a key only the top level takes; "
    "the hint suggests the closest key)",
    "credcors.E019": "a policy has `ALLOW_ALL_ORIGINS` with `ALLOW_CREDENTIALS`, or the default policy (the top "
    "level) sets `ALLOW_ALL_ORIGINS`",
    "credcors.E020": "a view in the URLconf names a policy that `POLICIES` does not define",
    "credcors.E021": "`TRUST_FOR_CSRF` is neither True/False nor a list of exact origins that a policy with "
    "credentials allows",
    "credcors.E022": "`REFUSED_FLUSH_SECONDS` is not a number within 1..3600",
    "credcors.E023": "`REFUSED_MAX_ROWS` is not a whole number within 1..100,000",
    "credcors.E024": "`REFUSED_MAX_PENDING` is not a whole number within 1..10,000",
    "credcors.E027": "`MAX_STALE_SECONDS` is neither `None` nor a number of seconds above 0",
    "credcors.E028": "`MAX_STALE_SECONDS` is not greater than `REFRESH_SECONDS`, so every process would drop its "
    "rows before each poll answers",
    "credcors.E029": "`HOSTS` is not a list of hosts, is empty, or has an entry that is not a host or leading-dot "
    "domain (a URL, a port, a wildcard)",
    "credcors.W001": "nothing can ever be allowed (no origins and `USE_DATABASE` off)",
    "credcors.W002": "an origin is listed twice (after canonicalization)",
    "credcors.W003": "an insecure `http://` origin is allowed with credentials",
    "credcors.W004": "`TRUST_FOR_CSRF` is on but `credcors.csrf.CredCorsCsrfViewMiddleware` is not in `MIDDLEWARE`",
    "credcors.W005": "the `RedisCache` named by `CACHE_ALIAS` has no socket timeouts, so a silent Redis would hold "
    "requests",
    "credcors.W006": 'an allowed origin is on another site than the API and a cookie\'s `SameSite` is not `"None"`, '
    "so it does not travel from there",
    "credcors.W007": "an `http://` origin is on another site than the API "
    "(a different scheme on the same domain counts)",
    "credcors.W008": "`ALLOWED_ORIGINS` lists `http://localhost:*` or `http://127.0.0.1:*`, which match nothing while "
    "`DEBUG` is off",
    "credcors.W009": "an enabled `AllowedOrigin` row repeats a settings origin of its policy with another CSRF trust: "
    "the settings entry decides, whatever the row's `trust_for_csrf` says (`check --database`)",
    "credcors.W010": "enabled `AllowedOrigin` rows belong to an `ALLOW_ALL_ORIGINS` policy, where they allow nothing "
    "(`check --database`)",
    "credcors.W011": "a middleware known to set `request.urlconf` (django-hosts, django-tenants, "
    "django-tenant-schemas, django-subdomains) is below credcors in `MIDDLEWARE`, so preflights resolve their view "
    "in `ROOT_URLCONF`",
    "credcors.W012": "Channels is installed and `ASGI_APPLICATION` routes WebSockets with no `OriginValidator` "
    "(credcors' or Channels') around them",
    "credcors.W013": "a cookie-authenticated WebSocket route (Channels' `AuthMiddlewareStack` and the like) sits "
    "behind credcors' `OriginValidator` with an `ALLOW_ALL_ORIGINS` policy, so any site's page opens it with the "
    "user's cookies",
    "credcors.W014": "a django-cors-headers setting (`CORS_ALLOWED_ORIGINS` and the rest) is in settings, which "
    "credcors does not read; the message names its `CREDCORS` key and `manage.py credcors convert-settings`",
    "credcors.W016": "a host scope (a policy's `HOSTS`, or an enabled row's hosts with `check --database`) that no "
    "host `ALLOWED_HOSTS` accepts can match, so its origins are allowed nowhere",
    "credcors.W015": "the `AllowedOrigin` table is missing (`check --database`): run `migrate`",
    "credcors.W020": "the database holding `AllowedOrigin` has no revision support (not PostgreSQL, SQLite or "
    "MySQL/MariaDB), so every process reads every row each `REFRESH_SECONDS`",
    "credcors.W021": "the revision table or triggers are missing (`check --database`); processes fall back to reading "
    "every row each `REFRESH_SECONDS` until `manage.py credcors install-triggers` restores them",
    "credcors.I001": "an allowed origin is on another site: Safari and Firefox block third-party cookies by default",
}


def key(name: str, policy: str | None = None) -> str:
    """How messages name a key of ``settings.CREDCORS``, or of one of its ``POLICIES``."""
    if policy is None:
        return f'CREDCORS["{name}"]'
    return f'CREDCORS["POLICIES"][{policy!r}]["{name}"]'


def level_of(check_id: str) -> str:
    """``error``, ``warning`` or ``info``: a check's level, which its id says (``credcors.E001`` ...)."""
    return {"E": "error", "W": "warning", "I": "info"}[check_id.removeprefix("credcors.")[0]]


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration mistake: a check id from :data:`CHECKS`, what is wrong, and the fix."""

    id: str
    msg: str
    hint: str

    def __post_init__(self) -> None:
        # An id outside the catalogue would be undocumented: fail loudly in tests.
        assert self.id in CHECKS, self.id

    @property
    def is_error(self) -> bool:
        return self.id.startswith("credcors.E")

    @property
    def level(self) -> str:
        """``error``, ``warning`` or ``info``, from the id."""
        return level_of(self.id)


def shadowed_trust(origin: str, policy: str, settings_trust: bool) -> Problem:
    """W009: a row of ``origin`` in ``policy`` whose CSRF trust differs from its settings entry's, which decides."""
    row_says = "not trusted" if settings_trust else "trusted"
    in_force = "trusted" if settings_trust else "not trusted"
    return Problem(
        "credcors.W009",
        f"The AllowedOrigin row {origin!r} of the policy {policy!r} is marked {row_says} for CSRF, but the settings "
        f"entry of the same origin in that policy decides: {origin!r} is {in_force} for CSRF.",
        "Delete the row (the settings entry allows the origin already); the CSRF trust of a settings origin is set "
        f"by {key('TRUST_FOR_CSRF')}.",
    )


def allow_all_takes_no_rows(policy: str) -> str:
    """Why a row of the ``ALLOW_ALL_ORIGINS`` policy ``policy`` allows nothing, in words."""
    return f"The policy {policy!r} answers every origin with '*' ({key('ALLOW_ALL_ORIGINS', policy)}) and takes no rows"


def rows_in_allow_all(policy: str, origins: Sequence[str], count: int) -> Problem:
    """W010: ``count`` enabled rows (``origins`` some of them) in the ``ALLOW_ALL_ORIGINS`` policy ``policy``."""
    rows = "row" if count == 1 else "rows"
    more = f" and {count - len(origins)} more" if count > len(origins) else ""
    named = ", ".join(safe(origin, 100) for origin in origins)
    return Problem(
        "credcors.W010",
        f"{allow_all_takes_no_rows(policy)}, but holds {count} enabled AllowedOrigin {rows} ({named}{more}): "
        "rows there allow nothing, and their CSRF trust counts nowhere.",
        "Move them to a policy that lists its origins (the default one for credentialed calls), or delete them: "
        "a public policy needs no rows.",
    )
