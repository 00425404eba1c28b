"""The change list's filters for ``AllowedOrigin``: state, host and CSRF trust, as queries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credcors.conf import get_config
from credcors.core.config import Config
from credcors.core.scopes import split_scopes
from credcors.core.trust import policy_trust
from credcors.models import AllowedOrigin

__all__ = ["EVERY_HOST", "CsrfTrustFilter", "HostFilter", "StateFilter"]

#: The host filter's value for the rows of every host: never a host entry (a wildcard is refused).
EVERY_HOST = "*"


class HostFilter(admin.SimpleListFilter):
    """The rows scoped to one host entry (a whole entry of the column), or the rows of every host.

    Hidden while no row names a host: with a single API, every row applies everywhere.
    """

    title = _("host")
    parameter_name = "hosts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        stored = AllowedOrigin.objects.exclude(hosts="").values_list("hosts", flat=True).distinct()
        entries = sorted({entry for hosts in stored for entry in split_scopes(hosts)})
        if not entries:
            return []
        return [(EVERY_HOST, _("Every host")), *((entry, entry) for entry in entries)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> QuerySet[AllowedOrigin]:
        entry = self.value()
        if not entry:
            return queryset
        if entry == EVERY_HOST:
            rows = Q(hosts="")
        else:
            # The column holds entries separated by single spaces: match one whole, never a part of another.
            rows = (
                Q(hosts=entry)
                | Q(hosts__startswith=f"{entry} ")
                | Q(hosts__endswith=f" {entry}")
                | Q(hosts__contains=f" {entry} ")
            )
        chosen: QuerySet[AllowedOrigin] = queryset.filter(rows)
        return chosen


class CsrfTrustFilter(admin.SimpleListFilter):
    """The rows trusted for CSRF by the rule the column shows, box or ``TRUST_FOR_CSRF``; one query."""

    title = _("trusted for CSRF (in force)")
    parameter_name = "csrf_trusted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> QuerySet[AllowedOrigin]:
        if self.value() not in ("yes", "no"):
            return queryset
        trusted = _trusted_rows(get_config())
        chosen: QuerySet[AllowedOrigin] = (
            queryset.filter(trusted) if self.value() == "yes" else queryset.exclude(trusted)
        )
        return chosen


def _trusted_rows(config: Config) -> Q:
    # row_trust() as a WHERE clause: per policy that can trust rows, its
    # exact rows (ticked, unless TRUST_FOR_CSRF trusts them all) that no
    # settings entry shadows, and the rows a trusted settings entry shadows.
    trusted = Q(pk__in=[])
    for name in config.policy_names:
        facts = policy_trust(config, name)
        if not facts.rows:
            continue
        rows = Q(policy=name) & ~Q(origin__contains="*") & ~Q(origin__in=list(facts.settings))
        if not facts.every_row:
            rows &= Q(trust_for_csrf=True)
        shadowed = [origin for origin, yes in facts.settings.items() if yes]
        trusted |= rows | Q(policy=name, origin__in=shadowed)
    return trusted


class StateFilter(admin.SimpleListFilter):
    """Active (enabled, not expired), expired (enabled, past its expiry), or disabled."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("expired", _("Expired")), ("disabled", _("Disabled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AllowedOrigin]) -> QuerySet[AllowedOrigin]:
        now = timezone.now()
        chosen: QuerySet[AllowedOrigin] = {
            "active": queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), enabled=True),
            "expired": queryset.filter(enabled=True, expires_at__lte=now),
            "disabled": queryset.filter(enabled=False),
        }.get(self.value() or "", queryset)
        return chosen
