"""System checks: every configuration mistake is reported at start-up."""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections, router
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from credcors.conf import get_config
from credcors.cookie_settings import api_http, django_api_hosts, django_cookies
from credcors.core.catalogue import Problem, rows_in_allow_all, shadowed_trust
from credcors.core.catalogue import key as setting_key
from credcors.core.compile import compile_settings
from credcors.core.config import Config, parse_config
from credcors.core.config.policies import DEFAULT_POLICY, PolicyConfig
from credcors.core.cookies import cookie_findings
from credcors.core.origin_header import DEFAULT_PORTS
from credcors.core.origins import OriginError, Rule, parse_rule
from credcors.core.quoting import safe
from credcors.core.scopes import split_scopes
from credcors.hosting import unreachable_scopes
from credcors.models import AllowedOrigin
from credcors.store import revision
from credcors.store.reads import read_guard

__all__ = [
    "check_allow_all_rows",
    "check_cookie_rows",
    "check_cookies",
    "check_cors_headers_settings",
    "check_csrf_middleware",
    "check_middleware",
    "check_migrated",
    "check_revision_backend",
    "check_revision_triggers",
    "check_settings",
    "check_shadowed_trust",
    "check_urlconf_middleware",
    "check_view_policies",
    "check_websocket_origins",
    "register",
]

MIDDLEWARE_PATH = "credcors.middleware.CredCorsMiddleware"
COMMON_MIDDLEWARE_PATH = "django.middleware.common.CommonMiddleware"
CSRF_MIDDLEWARE_PATH = "credcors.csrf.CredCorsCsrfViewMiddleware"

#: Middleware known to set ``request.urlconf`` (host and tenant routing), named by a class of its MRO,
#: so the packages' variants (django-tenants' subfolder and suspicious ones) and a project's subclasses count.
URLCONF_MIDDLEWARE = frozenset(
    {
        "django_hosts.middleware.HostsRequestMiddleware",
        "django_tenants.middleware.main.TenantMainMiddleware",
        # Before django-tenants 3.4 it did not derive from TenantMainMiddleware.
        "django_tenants.middleware.subfolder.TenantSubfolderMiddleware",
        "tenant_schemas.middleware.BaseTenantMiddleware",
        "subdomains.middleware.SubdomainURLRoutingMiddleware",
    }
)


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.CREDCORS``."""
    raw = getattr(settings, "CREDCORS", {})
    return _messages(parse_config(raw, getattr(settings, "CACHES", None), debug=bool(settings.DEBUG)).problems)


def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The middleware must be installed, and above ``CommonMiddleware``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if MIDDLEWARE_PATH not in middleware:
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} is not in settings.MIDDLEWARE, so credcors never runs.",
                hint=f"Add {MIDDLEWARE_PATH!r} near the top of MIDDLEWARE, above {COMMON_MIDDLEWARE_PATH!r}.",
                id="credcors.E011",
            )
        ]
    if COMMON_MIDDLEWARE_PATH in middleware and middleware.index(COMMON_MIDDLEWARE_PATH) < middleware.index(
        MIDDLEWARE_PATH
    ):
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} is below {COMMON_MIDDLEWARE_PATH!r} in settings.MIDDLEWARE.",
                hint="CommonMiddleware can answer early (APPEND_SLASH redirects) without CORS headers; "
                "move credcors above it.",
                id="credcors.E012",
            )
        ]
    return []


def check_urlconf_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A middleware that routes requests to another URLconf must run before credcors answers preflights.

    Only known host and tenant routers are found here; any other middleware
    below credcors that sets ``request.urlconf`` is logged when it does (see
    :func:`credcors.routing.report_urlconf_set_below`).
    """
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if MIDDLEWARE_PATH not in middleware:
        return []  # credcors.E011.
    if not parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None)).views_name_policies:
        return []  # One policy for every view: which view a preflight reaches does not matter.
    messages: list[checks.CheckMessage] = []
    for path in middleware[middleware.index(MIDDLEWARE_PATH) + 1 :]:
        try:
            found = import_string(path)
        except ImportError:
            continue  # Django reports a middleware that does not import.
        if not {f"{cls.__module__}.{cls.__qualname__}" for cls in getattr(found, "__mro__", ())} & URLCONF_MIDDLEWARE:
            continue
        messages.append(
            checks.Warning(
                f"{path!r} sets request.urlconf but is below {MIDDLEWARE_PATH!r} in settings.MIDDLEWARE: "
                "credcors answers preflights before it runs, so a preflight resolves its view, and with it "
                "its CORS policy, in ROOT_URLCONF while the actual request uses the URLconf it picks.",
                hint=f"Move {path!r} above {MIDDLEWARE_PATH!r} in MIDDLEWARE: host and tenant routing go first.",
                id="credcors.W011",
            )
        )
    return messages


def check_csrf_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``TRUST_FOR_CSRF`` does nothing unless credcors' CSRF middleware runs."""
    if not parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None)).trusts_any_for_csrf:
        return []
    from credcors.csrf import CredCorsCsrfViewMiddleware

    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            if path == CSRF_MIDDLEWARE_PATH or issubclass(import_string(path), CredCorsCsrfViewMiddleware):
                return []
        except (ImportError, TypeError):
            continue
    return [
        checks.Warning(
            f'CREDCORS["TRUST_FOR_CSRF"] is True but {CSRF_MIDDLEWARE_PATH!r} is not in settings.MIDDLEWARE, '
            "so Django's CSRF check still refuses unsafe requests from allowed origins.",
            hint=f"Replace 'django.middleware.csrf.CsrfViewMiddleware' with {CSRF_MIDDLEWARE_PATH!r} in MIDDLEWARE.",
            id="credcors.W004",
        )
    ]


def check_view_policies(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every policy a view names (``@cors_policy``, a ``cors_policy`` class attribute) is configured."""
    from credcors.routing import iter_views, view_policy

    names = parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None)).policy_names
    messages: list[checks.CheckMessage] = []
    # A URLconf that does not import raises here as in Django's own URL check.
    for route, view in iter_views():
        name = view_policy(view)
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1)
        suggestion = f"Did you mean {close[0]!r}? " if close else ""
        # A class-based view's as_view() function is named after its class.
        label = getattr(getattr(view, "view_class", None) or getattr(view, "cls", None) or view, "__qualname__", "?")
        messages.append(
            checks.Error(
                f"The view {label!r} at {route!r} names the CORS policy {name!r}, which CREDCORS['POLICIES'] does "
                "not define, so every cross-origin request to it is refused.",
                hint=f"{suggestion}Define it in CREDCORS['POLICIES'], or name one of {', '.join(map(repr, names))}.",
                id="credcors.E020",
            )
        )
    return messages


def _messages(problems: Iterable[Problem]) -> list[checks.CheckMessage]:
    levels = {"error": checks.Error, "warning": checks.Warning, "info": checks.Info}
    return [levels[problem.level](problem.msg, hint=problem.hint, id=problem.id) for problem in problems]


def check_cookies(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Will the session and CSRF cookies travel on credentialed requests from the allowed origins?

    Compares each settings origin of every policy that sends credentials
    (the default one and those of ``POLICIES``) with the API's site, known
    from the concrete entries of ``ALLOWED_HOSTS``.
    """
    config = parse_config(getattr(settings, "CREDCORS", {}))
    policies = _credentialed(config)
    if not policies:
        return []
    hosts = django_api_hosts()
    cookies = django_cookies()
    findings = cookie_findings(_settings_rules(policies), hosts, cookies, http=api_http(config, cookies))
    return _messages(findings)


def check_cookie_rows(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """:func:`check_cookies` for the enabled ``AllowedOrigin`` rows of credentialed policies (``check --database``)."""
    config = parse_config(getattr(settings, "CREDCORS", {}))
    policies = _credentialed(config)
    reading = [policy.name for policy in policies if policy.use_database]
    if not databases or not reading:
        return []
    from django.db import DatabaseError

    from credcors.models import AllowedOrigin

    rules: list[Rule] = []
    for alias in databases:
        try:
            # Guarded: a missing table must not abort the caller's transaction (PostgreSQL).
            with read_guard(connections[alias]):
                origins = list(
                    AllowedOrigin.objects.using(alias)
                    .filter(enabled=True, policy__in=reading)
                    .values_list("origin", flat=True)
                    .distinct()
                )
        except DatabaseError:
            # Not migrated yet: ``migrate`` runs the database checks before it creates the table.
            continue
        for origin in origins:
            try:
                rules.append(parse_rule(origin, allow_insecure=True))
            except OriginError:
                continue  # A row that slipped past the model's validator allows nothing; see compile_rows.
    hosts = django_api_hosts()
    cookies = django_cookies()
    http = api_http(config, cookies)
    findings = cookie_findings(_web_rules(rules), hosts, cookies, http=http, dropped_cookies=False)
    # The settings' own origins already got the third-party cookie note from check_cookies.
    settings_rules = _settings_rules(policies)
    if any(finding.id == "credcors.I001" for finding in cookie_findings(settings_rules, hosts, cookies, http=http)):
        findings = [finding for finding in findings if finding.id != "credcors.I001"]
    return _messages(findings)


def check_shadowed_trust(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W009: enabled rows that repeat a settings origin of their policy, with another CSRF trust (a database check).

    The settings entry wins (the row is never compiled), so the row's
    ``trust_for_csrf`` box, which the admin shows, is not what is in force.
    """
    if not databases:
        return []
    config = parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None))
    # The CSRF trust each settings origin has, per policy whose rows are read, as the snapshot compiles it.
    snapshot = compile_settings(config)
    policies = config.policies.values()
    exact = {
        policy.name: [rule.serialize() for rule in policy.rules if not rule.wildcard]
        for policy in policies
        if policy.takes_rows
    }
    credentials = {policy.name: policy.credentials for policy in policies}
    problems: list[Problem] = []
    for alias in databases:
        active = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        try:
            # Guarded: a missing table must not poison a caller's transaction.
            with read_guard(connections[alias]):
                rows = [
                    (origin, name, trust)
                    for name, origins in exact.items()
                    if origins
                    for origin, trust in AllowedOrigin.objects.using(alias)
                    .filter(active, enabled=True, policy=name, origin__in=origins)
                    .order_by("origin")
                    .values_list("origin", "trust_for_csrf")
                ]
        except DatabaseError:
            continue  # Not migrated yet: ``migrate`` runs the database checks before it creates the table.
        for origin, name, trust in rows:
            settings_trust = snapshot.trusts_for_csrf(origin, name)
            # In a policy without credentials neither would be trusted: nothing differs.
            if (trust and credentials[name]) != settings_trust:
                problems.append(shadowed_trust(origin, name, settings_trust))
    return _messages(problems)


#: How many origins W010 names per policy before "and N more".
_NAMED_ROWS = 3


def check_allow_all_rows(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W010: enabled rows of an ``ALLOW_ALL_ORIGINS`` policy, which takes none (a database check)."""
    config = parse_config(getattr(settings, "CREDCORS", {}), getattr(settings, "CACHES", None))
    public = [policy.name for policy in config.policies.values() if policy.allow_all]
    if not databases or not public:
        return []
    problems: list[Problem] = []
    for alias in databases:
        for name in public:
            rows = AllowedOrigin.objects.using(alias).filter(enabled=True, policy=name)
            try:
                with read_guard(connections[alias]):
                    count = rows.count()
                    origins = list(rows.order_by("origin").values_list("origin", flat=True)[:_NAMED_ROWS])
            except DatabaseError:
                break  # Not migrated yet, as above.
            if count:
                problems.append(rows_in_allow_all(name, origins, count))
    return _messages(problems)


def check_host_scopes(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W016: a policy's ``HOSTS`` entry that no host ``ALLOWED_HOSTS`` accepts can match."""
    problems: list[Problem] = []
    for policy in get_config().policies.values():
        unreachable = unreachable_scopes(policy.hosts or ())
        if unreachable:
            setting = setting_key("HOSTS", None if policy.name == DEFAULT_POLICY else policy.name)
            problems.append(_unreachable(f"{setting} has", unreachable, "its settings origins"))
    return _messages(problems)


def check_row_host_scopes(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W016: enabled rows scoped to hosts that no host ``ALLOWED_HOSTS`` accepts can match (a database check)."""
    problems: list[Problem] = []
    for alias in databases or ():
        rows = AllowedOrigin.objects.using(alias).filter(enabled=True).exclude(hosts="")
        try:
            with read_guard(connections[alias]):
                stored = list(rows.values_list("hosts", "origin").order_by("origin"))
        except DatabaseError:
            break  # Not migrated yet: W015 says so.
        by_entry: dict[str, list[str]] = {}
        for hosts, origin in stored:
            for entry in unreachable_scopes(split_scopes(hosts)):
                by_entry.setdefault(entry, []).append(origin)
        for entry, origins in sorted(by_entry.items()):
            named = ", ".join(safe(origin, 100) for origin in origins[:_NAMED_ROWS])
            more = f" and {len(origins) - _NAMED_ROWS} more" if len(origins) > _NAMED_ROWS else ""
            problems.append(_unreachable(f"AllowedOrigin rows ({named}{more}) are scoped to", [entry], "those rows"))
    return _messages(problems)


def _unreachable(subject: str, entries: Sequence[str], what: str) -> Problem:
    named = ", ".join(safe(entry, 100) for entry in entries)
    return Problem(
        "credcors.W016",
        f"{subject} {named}, which no host that ALLOWED_HOSTS accepts can match: {what} are allowed nowhere.",
        f"Add the API host to ALLOWED_HOSTS (e.g. {entries[0]!r}), or fix the host: it is the API's host, "
        "as requests reach Django, not the front end's.",
    )


def _credentialed(config: Config) -> list[PolicyConfig]:
    # Cookies matter only where the browser sends them: policies with
    # credentials (never an ALLOW_ALL_ORIGINS one, which parsing forbids).
    return [policy for policy in config.policies.values() if policy.credentials]


def _settings_rules(policies: Iterable[PolicyConfig]) -> list[Rule]:
    # An origin listed by two policies is judged, and named, once.
    return _web_rules(dict.fromkeys(rule for policy in policies for rule in policy.rules))


def _web_rules(rules: Iterable[Rule]) -> list[Rule]:
    # An app shell's origin (capacitor://, chrome-extension:// ...) has no site
    # in the SameSite sense; its cookie rules are the app's, not the web's.
    return [rule for rule in rules if rule.scheme in DEFAULT_PORTS]


#: The migration that installs the revision triggers; before it runs, their absence is expected.
REVISION_MIGRATION = ("credcors", "0002_revision")
REINSTALL_HINT = (
    "Run 'manage.py credcors install-triggers --database {alias}' (or 'manage.py migrate credcors 0001 "
    "--database {alias}' then 'manage.py migrate credcors --database {alias}')."
)


def check_revision_backend(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Say so when the AllowedOrigin table's database cannot keep a revision."""
    if not parse_config(getattr(settings, "CREDCORS", {})).reads_database:
        return []
    alias = router.db_for_read(AllowedOrigin)
    vendor = connections[alias].vendor
    if revision.is_supported(alias):
        return []
    return [
        checks.Warning(
            f"The database {alias!r} holding AllowedOrigin uses the {vendor!r} backend, which credcors keeps no "
            "revision for: every process reads every row every REFRESH_SECONDS, changed or not.",
            hint="Keep AllowedOrigin on PostgreSQL, SQLite or MySQL/MariaDB for one small query per interval; "
            "with many rows, raise CREDCORS['REFRESH_SECONDS'] meanwhile.",
            id="credcors.W020",
        )
    ]


def check_revision_triggers(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The revision table and triggers exist wherever migration 0002 says they were installed.

    A database check (``manage.py check --database default``): it queries.
    Missing triggers are found after a dump restored without them, or a table
    recreated by hand; credcors then reads every row every interval.
    """
    messages: list[checks.CheckMessage] = []
    for alias in databases or ():
        if not revision.is_supported(alias) or not router.allow_migrate_model(alias, AllowedOrigin):
            continue
        recorder = MigrationRecorder(connections[alias])
        if not recorder.has_table() or REVISION_MIGRATION not in recorder.applied_migrations():
            continue  # Not migrated yet: Django reports unapplied migrations itself.
        missing = revision.missing_objects(alias)
        if missing:
            messages.append(
                checks.Warning(
                    f"The database {alias!r} lacks credcors' revision objects {', '.join(map(repr, missing))} "
                    "(or has them disabled), though migration 0002_revision was applied: every process reads "
                    "every AllowedOrigin row every REFRESH_SECONDS.",
                    hint=REINSTALL_HINT.format(alias=alias),
                    id="credcors.W021",
                )
            )
    return messages


def check_cors_headers_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A django-cors-headers setting left in settings: credcors reads none of them."""
    from credcors.convert.reading import CREDCORS_KEY_OF

    messages: list[checks.CheckMessage] = []
    for name, key in CREDCORS_KEY_OF.items():
        if not hasattr(settings, name):
            continue
        becomes = f"CREDCORS[{key!r}]" if key else "nothing in CREDCORS (convert-settings says why)"
        messages.append(
            checks.Warning(
                f"settings.{name} is a django-cors-headers setting, which credcors does not read; "
                f"its credcors equivalent is {becomes}.",
                hint="Run 'manage.py credcors convert-settings' to print the CREDCORS dict for your CORS_* "
                "settings, then remove them.",
                id="credcors.W014",
            )
        )
    return messages


def check_migrated(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The ``AllowedOrigin`` table exists (``check --database``): a forgotten ``migrate`` is said here.

    A warning, never an error: ``migrate`` runs the database checks before it
    creates the table.
    """
    messages: list[checks.CheckMessage] = []
    for alias in databases or ():
        if not router.allow_migrate_model(alias, AllowedOrigin):
            continue
        connection = connections[alias]
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
        if AllowedOrigin._meta.db_table not in tables:
            messages.append(
                checks.Warning(
                    f"The database {alias!r} has no {AllowedOrigin._meta.db_table!r} table yet: until 'migrate' "
                    "creates it, credcors serves its settings only and the admin's origin pages fail.",
                    hint=f"Run 'manage.py migrate --database {alias}' (which shows this warning too, from the checks "
                    "it runs before it creates the table).",
                    id="credcors.W015",
                )
            )
    return messages


#: Channels' two validators: what guards a socket besides credcors' own.
CHANNELS_VALIDATORS = frozenset({"channels.security.websocket.OriginValidator"})
#: The attributes an ASGI middleware keeps its inner application in: Channels'
#: BaseMiddleware and routers (``inner``), validators (``application``), others (``app``).
_INNER_ATTRIBUTES = ("application", "inner", "app")


def check_websocket_origins(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when ``ASGI_APPLICATION`` routes WebSockets and nothing checks their ``Origin`` (issue #23).

    How it detects: only with Channels installed and ``ASGI_APPLICATION``
    set, it imports that application and, if it is a ``ProtocolTypeRouter``
    with a ``"websocket"`` entry, follows that entry's wrappers through their
    ``application``, ``inner`` and ``app`` attributes; it warns when none of
    them is credcors' or Channels' ``OriginValidator``.  An application it
    cannot see through is never reported.
    """
    path, sockets = _websocket_application()
    if sockets is None or _validated(sockets):
        return []
    return [
        checks.Warning(
            f"settings.ASGI_APPLICATION {path!r} routes WebSockets, but no OriginValidator wraps its "
            '"websocket" application: any site can open a socket with your users\' cookies '
            "(cross-site WebSocket hijacking).",
            hint='Wrap it: "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(...))), with '
            "OriginValidator from credcors.websocket. Found by following the application's "
            "application/inner/app attributes; if a validator hides from that, add 'credcors.W012' to "
            "SILENCED_SYSTEM_CHECKS.",
            id="credcors.W012",
        )
    ]


def _websocket_application() -> tuple[str, object | None]:
    """``settings.ASGI_APPLICATION`` and its ``"websocket"`` entry; None without Channels or a socket route."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not isinstance(path, str) or importlib.util.find_spec("channels") is None:
        return "", None
    try:
        application = import_string(path)
    except ImportError:
        return path, None  # Channels' own checks and runserver report it.
    mapping = getattr(application, "application_mapping", None)
    if not isinstance(mapping, dict) or "websocket" not in mapping:
        return path, None
    return path, mapping["websocket"]


#: Channels' middlewares that authenticate a socket by the browser's cookies
#: (``AuthMiddlewareStack`` and ``SessionMiddlewareStack`` are made of them).
COOKIE_MIDDLEWARES = frozenset(
    {"channels.sessions.CookieMiddleware", "channels.sessions.SessionMiddleware", "channels.auth.AuthMiddleware"}
)


def check_websocket_allow_all(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when a cookie-authenticated socket route sits under a validator whose policy allows every origin.

    A policy with ``ALLOW_ALL_ORIGINS`` answers ``*`` over HTTP, which a
    browser never combines with cookies; a socket has no such rule, so the
    validator lets any site's page open it with the user's cookies.  How it
    detects: from ``ASGI_APPLICATION``'s ``"websocket"`` entry, it follows
    wrappers (``application``, ``inner``, ``app``) and ``URLRouter`` routes,
    and warns for each route on which a credcors ``OriginValidator`` of such
    a policy and one of Channels' cookie middlewares (``CookieMiddleware``,
    ``SessionMiddleware``, ``AuthMiddleware``) both sit, in either order.
    """
    path, sockets = _websocket_application()
    if sockets is None:
        return []
    open_policies = {name for name, policy in get_config().policies.items() if policy.allow_all}
    found = sorted(_allow_all_over_cookies(sockets, open_policies))
    return [
        checks.Warning(
            f"settings.ASGI_APPLICATION {path!r} authenticates WebSockets by cookies behind "
            f"OriginValidator(policy={name!r}), and that policy has ALLOW_ALL_ORIGINS: any site can open "
            "those sockets with your users' cookies (cross-site WebSocket hijacking).",
            hint=f"Give the validator a policy that lists its front ends (ALLOWED_ORIGINS, rows), or drop "
            f"cookie authentication from these routes. If the policy {name!r} is meant for public, "
            "unauthenticated sockets only, keep AuthMiddlewareStack off them; to accept the risk, add "
            "'credcors.W013' to SILENCED_SYSTEM_CHECKS.",
            id="credcors.W013",
        )
        for name in found
    ]


def _allow_all_over_cookies(sockets: object, open_policies: set[str]) -> set[str]:
    """The ``open_policies`` whose validator shares a route with a cookie middleware under ``sockets``.

    A route is safe once any other validator sits on it (credcors' with a
    policy that lists its origins, or Channels'): it refuses unlisted pages
    whichever side of the open one it is on.
    """
    from credcors.websocket import OriginValidator

    found: set[str] = set()
    # (application, the open policy above it or None, whether cookies are read above it)
    pending: list[tuple[object, str | None, bool]] = [(sockets, None, False)]
    seen = 0
    while pending and seen < 1024:  # Bounded: a cycle or a huge router must not hang the checks.
        application, policy, cookies = pending.pop()
        seen += 1
        kind = _class_path(application)
        if isinstance(application, OriginValidator) and application.policy in open_policies:
            policy = application.policy
        elif isinstance(application, OriginValidator) or kind in CHANNELS_VALIDATORS:
            continue  # This route only lets listed pages in.
        cookies = cookies or kind in COOKIE_MIDDLEWARES
        if policy is not None and cookies:
            found.add(policy)
            continue
        children = [_inner(application)]
        routes = getattr(application, "routes", None)
        if isinstance(routes, (list, tuple)):
            children += [getattr(route, "callback", None) for route in routes]
        pending.extend((child, policy, cookies) for child in children if child is not None)
    return found


def _class_path(application: object) -> str:
    """The dotted path of ``application``'s class, as ``CHANNELS_VALIDATORS`` and ``COOKIE_MIDDLEWARES`` name them."""
    return f"{type(application).__module__}.{type(application).__qualname__}"


def _inner(application: object) -> object | None:
    """The application a wrapper calls, by the attribute Channels' middlewares and routers keep it in."""
    return next((getattr(application, name) for name in _INNER_ATTRIBUTES if hasattr(application, name)), None)


def _validated(application: object) -> bool:
    from credcors.websocket import OriginValidator

    for _ in range(32):  # Bounded: a cycle of wrappers must not hang the checks.
        if isinstance(application, OriginValidator) or _class_path(application) in CHANNELS_VALIDATORS:
            return True
        inner = _inner(application)
        if inner is None:
            return False
        application = inner
    return False


def register() -> None:
    checks.register(check_settings, "credcors")
    checks.register(check_middleware, "credcors")
    checks.register(check_urlconf_middleware, "credcors")
    checks.register(check_websocket_origins, "credcors")
    checks.register(check_websocket_allow_all, "credcors")
    checks.register(check_view_policies, "credcors", checks.Tags.urls)
    checks.register(check_csrf_middleware, "credcors")
    checks.register(check_cookies, "credcors")
    checks.register(check_cookie_rows, "credcors", checks.Tags.database)
    checks.register(check_shadowed_trust, "credcors", checks.Tags.database)
    checks.register(check_allow_all_rows, "credcors", checks.Tags.database)
    checks.register(check_revision_backend, "credcors")
    checks.register(check_revision_triggers, "credcors", checks.Tags.database)
    checks.register(check_cors_headers_settings, "credcors")
    checks.register(check_migrated, "credcors", checks.Tags.database)
    checks.register(check_host_scopes, "credcors")
    checks.register(check_row_host_scopes, "credcors", checks.Tags.database)
