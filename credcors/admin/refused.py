"""The admin of refused origins (``RECORD_REFUSED``): allow them through the one validator, or dismiss them.

The list is filled by whoever sends requests, so everything it shows is
request input: bidirectional controls in a path are shown escaped
(:func:`~credcors.core.quoting.without_bidi`), and "Allow selected" says per
origin what it did, leaves in the list what it did not allow where it was
refused, and warns about a look-alike of an allowed origin.  An origin is
allowed on the host it was refused on (issue 24): a new row is scoped to
that host, an existing row of a few hosts gets that one too; only a refusal
whose host is unknown (recorded before hosts were) adds a row of every host.

Registered when :mod:`credcors.admin.origins` imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from credcors.admin.cells import moment, shortened
from credcors.conf import get_config
from credcors.core.config import Config
from credcors.core.diagnose.nearby import near_misses
from credcors.core.origins import OriginError, parse_rule
from credcors.core.quoting import without_bidi
from credcors.core.scopes import ScopeError, canonical_scope, covers, join_scopes
from credcors.core.snapshot import Snapshot
from credcors.hosting import unreachable_scopes
from credcors.models import AllowedOrigin, RefusedOrigin, canonicalize_origin
from credcors.refused import flush
from credcors.rows.edit import FIELDS, save_row
from credcors.store.current import get_store

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices
    from django.contrib.admin.views.main import ChangeList

__all__ = ["RefusedOriginAdmin"]

#: What "Allow selected" did with one refused origin: allowed by a row it
#: added or enabled, found allowed already, or left in the list (with why).
_ALLOWED, _ALREADY, _KEPT = "allowed", "already", "kept"
#: The near misses that mean another owner, of those the diagnosis knows:
#: app.example.com.evil.net next to app.example.com.  The others (scheme,
#: port, ``www.``, a pattern's apex) name the same host's owner.
_ANOTHER_OWNER = ("look-alike-host",)


#: How much of a path the list shows; the whole path is on hover and on the entry's page.
PATH_CELL_LENGTH = 40
#: How much of a host the list shows: a customer's API host fits whole.
HOST_CELL_LENGTH = 32


def now_allowed(snapshot: Snapshot, refused: RefusedOrigin) -> bool:
    """Whether ``refused``'s origin is allowed now by the policy that refused it, on its host (no query)."""
    return flush.now_allowed(snapshot, refused.origin, refused.policy, refused.host)


def _named(refused: RefusedOrigin) -> str:
    # How a message names one entry: the same origin may be listed per host.
    if not refused.host:
        return refused.origin
    return gettext("%(origin)s on %(host)s") % {"origin": refused.origin, "host": refused.host}


class _NowAllowedFilter(admin.SimpleListFilter):
    """Entries whose origin is allowed now where it was refused: hidden unless asked for.

    An origin allowed since (by a row saved elsewhere, a settings change)
    has nothing left to decide; the list shows what still needs a decision,
    and "Yes" or "All" show the others, marked.
    """

    title = _("now allowed")
    parameter_name = "now_allowed"
    default = "no"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(self.default, _("No")), ("yes", _("Yes")), ("all", _("All"))]

    def value(self) -> str:
        chosen = super().value()
        return chosen if chosen in ("yes", "all") else self.default

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        # No "All" of Django's (it would mean the default here): three choices, one of them chosen.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> QuerySet[RefusedOrigin]:
        if self.value() == "all" or _picked_one_by_one(request):
            # Entries ticked one by one are acted on, even one allowed
            # between the listing and the click ("Allow selected" then says
            # it was allowed already); "all N" means the N listed.
            return queryset
        # One read of the list (at most REFUSED_MAX_ROWS entries), decided
        # on this process's snapshot like the mark each row shows.
        snapshot = get_store().get()
        allowed = [
            refused.pk for refused in queryset.only("pk", "origin", "policy", "host") if now_allowed(snapshot, refused)
        ]
        chosen: QuerySet[RefusedOrigin] = (
            queryset.filter(pk__in=allowed) if self.value() == "yes" else queryset.exclude(pk__in=allowed)
        )
        return chosen


def _picked_one_by_one(request: HttpRequest) -> bool:
    # An action's POST naming its entries, rather than "select all".
    return request.method == "POST" and request.POST.get("select_across", "0") == "0"


class _PolicyFilter(admin.AllValuesFieldListFilter):
    """The policy filter, its choices shown as :func:`~credcors.core.quoting.without_bidi` shows them."""

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        for choice in super().choices(changelist):
            choice["display"] = without_bidi(str(choice["display"]))
            yield choice


@admin.register(RefusedOrigin)
class RefusedOriginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Origins the middleware refused (``RECORD_REFUSED``), most seen first: allow them or dismiss them."""

    # What fits beside the admin's sidebar and the filters at 1280 px: the
    # first sighting and the whole path are on the entry's own page.
    # The host is the origin cell's second line: a column of its own would
    # not fit beside the filters at 1280 px; the entry's page names it apart.
    list_display = ("listed_origin", "refused", "seen", "listed_path", "shown_policy")
    list_filter = (_NowAllowedFilter, ("policy", _PolicyFilter))
    search_fields = ("origin", "host", "last_path")
    ordering = ("-count", "-last_seen")
    fields = ("shown_origin", "shown_host", "count", "first_seen", "last_seen", "shown_path", "shown_policy")
    readonly_fields = fields
    # Named "delete_selected", this list's Dismiss takes the place of
    # Django's site-wide delete action, which asks for a confirmation page
    # about objects nobody created by hand.
    actions = ("allow_selected", "delete_selected")

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        # With the default policy alone, the policy column says "default" on
        # every line; the filter and the entry's page still name it.
        if len(get_config().policy_names) > 1:
            return self.list_display
        return tuple(name for name in self.list_display if name != "shown_policy")

    # Request input, shown as text (the page escapes HTML) with nothing
    # that could reorder the row around it: "/api/\u202etxt.exe" shows
    # as "/api/\\u202etxt.exe".
    @admin.display(description=_("origin"), ordering="origin")
    def shown_origin(self, obj: RefusedOrigin) -> str:
        shown = without_bidi(obj.origin)
        if now_allowed(get_store().get(), obj):
            # Listed by the "Now allowed" filter: say why it is still here.
            return format_html('{} <span class="credcors-now-allowed">{}</span>', shown, _("now allowed"))
        return shown

    @admin.display(description=_("origin"), ordering="origin")
    def listed_origin(self, obj: RefusedOrigin) -> str:
        # The list's cell: the origin, over the host it was refused on when known.
        shown = self.shown_origin(obj)
        if not obj.host:
            return shown
        host = shortened(obj.host, HOST_CELL_LENGTH, breaks_after=".")
        return format_html(
            '{}<br><span class="credcors-host">{}</span>', shown, format_html(gettext("on {host}"), host=host)
        )

    @admin.display(description=_("host"), ordering="host")
    def shown_host(self, obj: RefusedOrigin) -> str:
        # The host Django accepted (ALLOWED_HOSTS), so plain ASCII; "" for
        # refusals recorded before credcors recorded hosts.
        return obj.host or str(_("unknown"))

    @admin.display(description=_("refused"), ordering="count")
    def refused(self, obj: RefusedOrigin) -> int:
        return obj.count

    @admin.display(description=_("last seen"), ordering="last_seen")
    def seen(self, obj: RefusedOrigin) -> str:
        return moment(obj.last_seen)

    @admin.display(description=_("last path"), ordering="last_path")
    def shown_path(self, obj: RefusedOrigin) -> str:
        return without_bidi(obj.last_path)

    @admin.display(description=_("last path"), ordering="last_path")
    def listed_path(self, obj: RefusedOrigin) -> str:
        # The list's cell: shortened, whole on hover and on the entry's page.
        return shortened(without_bidi(obj.last_path), PATH_CELL_LENGTH, breaks_after="/?&")

    @admin.display(description=_("policy"), ordering="policy")
    def shown_policy(self, obj: RefusedOrigin) -> str:
        return without_bidi(obj.policy)

    # Written only by the middleware's background flush.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RefusedOrigin | None = None) -> bool:
        return False

    def has_allow_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("credcors.add_allowedorigin") and user.has_perm("credcors.change_allowedorigin"))

    @admin.action(description=_("Allow selected origins"), permissions=["allow"])
    def allow_selected(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> None:
        config = get_config()
        snapshot = get_store().get()
        done: dict[str, list[str]] = {_ALLOWED: [], _ALREADY: []}
        for refused in queryset:
            with transaction.atomic(using=router.db_for_write(AllowedOrigin)):
                outcome = self._allow_one(request, config, snapshot, refused)
                if outcome != _KEPT:
                    # Only now is the origin allowed where it was refused.
                    refused.delete()
                    done[outcome].append(_named(refused))
        if done[_ALLOWED]:
            count = len(done[_ALLOWED])
            self.message_user(
                request,
                ngettext("Allowed %(count)d origin: %(origins)s.", "Allowed %(count)d origins: %(origins)s.", count)
                % {"count": count, "origins": ", ".join(done[_ALLOWED])},
                messages.SUCCESS,
            )
        if done[_ALREADY]:
            count = len(done[_ALREADY])
            self.message_user(
                request,
                ngettext(
                    "Already allowed by the policy that refused it, so only cleared from the list: %(origins)s.",
                    "Already allowed by the policies that refused them, so only cleared from the list: %(origins)s.",
                    count,
                )
                % {"origins": ", ".join(done[_ALREADY])},
                messages.INFO,
            )

    def _allow_one(self, request: HttpRequest, config: Config, snapshot: Snapshot, refused: RefusedOrigin) -> str:
        # Allow one refused origin in the policy that refused it, or say why not.
        origin, policy = refused.origin, refused.policy
        named = without_bidi(policy)
        if policy not in config.policy_names:
            # Never into another policy: the default one may send credentials.
            self._say(
                request,
                gettext(
                    "Left in the list: %(origin)s was refused by the policy '%(policy)s', which is no longer "
                    "configured; nothing was added to another policy. Dismiss it, or configure '%(policy)s' again."
                )
                % {"origin": origin, "policy": named},
            )
            return _KEPT
        # The one validator decides: an insecure origin (without
        # ALLOW_INSECURE_ORIGINS), a host that ends in a number, and
        # whatever else it refuses stay refused, with its reason.
        try:
            canonical = canonicalize_origin(origin, policy)
        except ValidationError as exc:
            self.message_user(request, gettext("Still refused: %s") % exc.messages[0], messages.ERROR)
            return _KEPT
        scope = self._scope(request, refused)
        if scope is None:
            return _KEPT
        if now_allowed(snapshot, refused):
            return _ALREADY
        if not config.takes_rows(policy):
            self._say(
                request,
                gettext(
                    "Not allowed: the policy '%(policy)s' reads no database rows (its USE_DATABASE is False), so a "
                    "row would allow nothing; list %(origin)s in its ALLOWED_ORIGINS in settings."
                )
                % {"origin": origin, "policy": named},
            )
            return _KEPT
        row = AllowedOrigin.objects.filter(origin=canonical).first()
        if row is not None and row.policy != policy:
            # An origin has one row, in one policy: this is not the one that refused it.
            self._say(
                request,
                gettext(
                    "Not allowed by '%(policy)s': %(origin)s is already a row of the policy '%(other)s' (%(state)s), "
                    "and an origin has one row only. Change that row's policy if '%(policy)s' should allow it "
                    "instead."
                )
                % {
                    "origin": canonical,
                    "policy": named,
                    "other": without_bidi(row.policy),
                    "state": gettext("enabled") if row.enabled else gettext("disabled"),
                },
            )
            return _KEPT
        if row is not None and row.expires_at is not None and row.is_expired():
            # Someone set that expiry on purpose; a list anyone can fill
            # never extends it.
            moment = date_format(timezone.localtime(row.expires_at), "DATETIME_FORMAT")
            self._say(
                request,
                gettext(
                    "Not renewed: the row of %(origin)s expired %(moment)s, and allowing it from this list never "
                    "extends an expiry. Give the row a later expiry, or none, to allow it again."
                )
                % {"origin": canonical, "moment": moment},
            )
            return _KEPT
        if row is None:
            self._add(request, canonical, refused, scope)
        else:
            outcome = self._allow_in_row(request, row, scope)
            if outcome != _ALLOWED:
                return outcome
        self._warn_near_misses(request, snapshot, canonical)
        return _ALLOWED

    def _scope(self, request: HttpRequest, refused: RefusedOrigin) -> str | None:
        # The host to allow the origin on: the one it was refused on, ""
        # when unknown (every host, as in 0.1), None (said why) when none can be.
        if not refused.host:
            return ""
        try:
            host = canonical_scope(refused.host)
        except ScopeError as exc:
            # Django accepts hosts such as "a..b" (with ALLOWED_HOSTS = ["*"]) that no row can name.
            self.message_user(
                request,
                gettext("Still refused: %(entry)s, since %(why)s") % {"entry": _named(refused), "why": exc.message},
                messages.ERROR,
            )
            return None
        if unreachable_scopes([host]):
            self._say(
                request,
                gettext(
                    "Left in the list: %(origin)s was refused on the host %(host)s, which ALLOWED_HOSTS no longer "
                    "accepts, so no request to it reaches credcors; nothing was added. Dismiss it, or add "
                    "%(host)s to ALLOWED_HOSTS again."
                )
                % {"origin": refused.origin, "host": host},
            )
            return None
        return host

    def _allow_in_row(self, request: HttpRequest, row: AllowedOrigin, scope: str) -> str:
        # The origin's row, in the policy that refused it and unexpired:
        # enable it, and give it the refusal's host when its hosts miss it.
        hosts = row.host_list
        covered = not hosts or any(covers(entry, scope) for entry in hosts)
        if row.enabled and covered:
            # Enabled, unexpired, on this host, in this policy, but not in
            # this process's list yet: another process saved it a moment ago.
            return _ALREADY
        if not covered and not scope:
            # A list anyone can fill never widens a tenant's row to every host.
            self._say(
                request,
                gettext(
                    "Left in the list: the row of %(origin)s allows it only on %(hosts)s, and this refusal's host "
                    "is unknown (it was recorded before credcors recorded hosts), so allowing it here would allow "
                    "it on every host. Add the hosts it needs to the row, or dismiss it."
                )
                % {"origin": row.origin, "hosts": " ".join(hosts)},
            )
            return _KEPT
        before = {name: getattr(row, name) for name in FIELDS}
        row.enabled = True
        if not covered:
            row.hosts = join_scopes((*hosts, scope))
        try:
            save_row(row, user=request.user, before=before)
        except ValidationError as exc:  # More hosts than a row may name.
            self.message_user(request, gettext("Still refused: %s") % exc.messages[0], messages.ERROR)
            return _KEPT
        if not covered:
            self.message_user(
                request,
                gettext("The row of %(origin)s now allows it on %(host)s too: its hosts are %(hosts)s.")
                % {"origin": row.origin, "host": scope, "hosts": row.hosts},
                messages.INFO,
            )
        return _ALLOWED

    def _add(self, request: HttpRequest, origin: str, refused: RefusedOrigin, scope: str) -> None:
        # Through the one write path (the model's rules, the signals that
        # reload the allow-list, the history entry worded as every add's),
        # scoped to the host it was refused on.
        row = AllowedOrigin(
            origin=origin,
            note=f"allowed from the refused origins ({refused.count} refused)",
            policy=refused.policy,
            hosts=scope,
        )
        save_row(row, user=request.user)

    def _warn_near_misses(self, request: HttpRequest, snapshot: Snapshot, origin: str) -> None:
        # Anyone can fill this list: say when what was just allowed looks
        # like an allowed origin of any policy but is another owner's
        # (app.example.com.evil.net next to app.example.com), without
        # undoing it.
        try:
            rule = parse_rule(origin, allow_insecure=True)
        except OriginError:  # pragma: no cover - the validator accepted it a moment ago
            return
        said: set[str] = set()
        for index in (compiled.index for compiled in snapshot.policies.values()):
            for cause, message, _fix in near_misses(snapshot, origin, rule, came_from="you now allow", index=index):
                if cause in _ANOTHER_OWNER and message not in said:
                    said.add(message)
                    self._say(request, gettext("Allowed, but check it: %(message)s") % {"message": message})

    def _say(self, request: HttpRequest, text: str) -> None:
        self.message_user(request, text, messages.WARNING)

    @admin.action(description=_("Dismiss selected origins"), permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[RefusedOrigin]) -> None:
        count, _deleted = queryset.delete()
        self.message_user(
            request, ngettext("Dismissed %d origin.", "Dismissed %d origins.", count) % count, messages.SUCCESS
        )
