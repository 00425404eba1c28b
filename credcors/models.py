"""The ``AllowedOrigin`` table that staff edit in the Django admin."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credcors.conf import get_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.origins import OriginError, parse_rule
from credcors.core.scopes import ScopeError, join_scopes, parse_scopes, split_scopes
from credcors.refused.recorder import MAX_HOST_LENGTH, MAX_PATH_LENGTH, MAX_POLICY_LENGTH

__all__ = [
    "AllowedOrigin",
    "RefusedOrigin",
    "canonicalize_hosts",
    "canonicalize_origin",
    "validate_hosts",
    "validate_origin",
    "validate_policy",
]


def canonicalize_origin(value: object, policy: str | None = DEFAULT_POLICY) -> str:
    """Validate ``value`` for a row of ``policy`` with the current settings and return its canonical form.

    The policy matters for plain ``http://`` origins, refused where it sends
    credentials (unless ``ALLOW_INSECURE_ORIGINS``); an unknown policy is
    judged as the default one (:func:`validate_policy` refuses its name).
    ``policy=None`` judges for whichever policy is least strict: what the
    field validator, which knows no row, can say.  Raises
    :class:`~django.core.exceptions.ValidationError` with the validator's
    message, so forms show it next to the field.
    """
    config = get_config()
    if policy is None:
        credentials = all(each.credentials for each in config.policies.values() if each.takes_rows)
    else:
        credentials = (config.policy(policy) or config.default_policy).credentials
    try:
        rule = parse_rule(value, allow_insecure=config.allow_insecure, credentials=credentials)
    except OriginError as exc:
        raise ValidationError(exc.message, code="invalid_origin") from None
    return rule.serialize()


def validate_origin(value: object) -> None:
    """Field validator: refuse what :func:`canonicalize_origin` refuses for every policy (clean() checks the row's)."""
    canonicalize_origin(value, policy=None)


def canonicalize_hosts(value: object) -> str:
    """Host scope entries (a string of them, or a list) as the ``hosts`` column stores them, or ValidationError.

    ``""`` (or an empty list) means every host.  Each entry is a host or a
    leading-dot domain as ``ALLOWED_HOSTS`` spells them, without a port.
    Whether ``ALLOWED_HOSTS`` can ever match them is the form's and the
    checks' concern (:func:`credcors.hosting.unreachable_scopes`).
    """
    if value is None:
        return ""
    if not isinstance(value, (str, list, tuple)):
        raise ValidationError(
            _("Hosts must be a string or a list of hosts, not %(type)s."),
            code="invalid_hosts",
            params={"type": type(value).__name__},
        )
    try:
        return join_scopes(parse_scopes(value))
    except ScopeError as exc:
        raise ValidationError(exc.message, code="invalid_hosts") from None


def validate_hosts(value: object) -> None:
    """Field validator for ``hosts``: see :func:`canonicalize_hosts`."""
    canonicalize_hosts(value)


def validate_policy(value: object) -> None:
    """Field validator: the name of a configured policy (``"default"`` or one of ``POLICIES``)."""
    names = get_config().policy_names
    if value not in names:
        raise ValidationError(
            _("%(value)r is not a configured policy; choose one of %(names)s, or add it to CREDCORS['POLICIES']."),
            code="unknown_policy",
            params={"value": value, "names": ", ".join(names)},
        )


class AllowedOrigin(models.Model):
    """One origin (or ``*.`` subdomain pattern) allowed to make credentialed requests."""

    origin = models.CharField(
        _("origin"),
        max_length=300,
        unique=True,
        validators=[validate_origin],
        help_text=_(
            'scheme://host[:port], e.g. "https://app.example.com", or a subdomain pattern such as '
            '"https://*.example.com". Stored in canonical form.'
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True, db_index=True)
    policy = models.CharField(
        _("policy"),
        max_length=64,
        # A database default too: rows inserted by raw SQL or other tools,
        # as 0.1 documented, belong to the default policy without naming it.
        default="default",
        db_default="default",
        db_index=True,
        validators=[validate_policy],
        help_text=_(
            'The CORS policy this origin belongs to: "default" (views without a policy of their own) or a '
            "name from CREDCORS['POLICIES'] whose USE_DATABASE is True."
        ),
    )
    trust_for_csrf = models.BooleanField(
        _("trusted for CSRF"),
        default=False,
        db_default=False,
        # True under every setting: the box is one of two ways a row is trusted (see credcors.core.trust).
        help_text=_(
            "Ticked: Django's CSRF origin check accepts this exact origin for unsafe requests on its policy's views "
            "(needs credcors.csrf.CredCorsCsrfViewMiddleware). CREDCORS['TRUST_FOR_CSRF'] = True trusts every exact "
            "row of the default policy, ticked or not; patterns, and policies without credentials, are never "
            "trusted. Reading is not writing: leave it off for origins that only read."
        ),
    )
    hosts = models.TextField(
        _("hosts"),
        blank=True,
        default="",
        # Rows inserted by raw SQL apply on every host, as in 0.1.
        db_default="",
        validators=[validate_hosts],
        help_text=_(
            "Optional. The API hosts this origin is allowed on, separated by spaces, as ALLOWED_HOSTS spells "
            'them: "api.customer-a.com" (that host) or ".customer-a.com" (the domain and its subdomains), '
            "without a port. Empty: every host. Django must accept the host (ALLOWED_HOSTS) for it to match."
        ),
    )
    note = models.TextField(_("note"), blank=True, default="")
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_(
            "Optional. From this moment the origin is refused, in every process within a second; "
            "leave empty for an origin that never expires."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["origin"]  # noqa: RUF012 - Django reads Meta, nobody mutates it
        verbose_name = _("allowed origin")
        verbose_name_plural = _("allowed origins")

    def __str__(self) -> str:
        return self.origin

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The ORM and management code get the same validation as the admin:
        # no row is ever stored in a form the middleware would not match.
        self.origin = canonicalize_origin(self.origin, self.policy)
        self.hosts = canonicalize_hosts(self.hosts)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Store the canonical form so the unique check compares like with
        # like.  An invalid value is reported by the field validator (or the
        # form field) already; Model.full_clean() runs clean() even after
        # those failed, so raising here would show the same error twice.
        # save() still refuses it, so nothing invalid is ever stored.
        with contextlib.suppress(ValidationError):  # The field validator says so.
            self.hosts = canonicalize_hosts(self.hosts)
        try:
            self.origin = canonicalize_origin(self.origin, policy=None)
        except ValidationError:
            return
        try:
            # The field validator judged for the least strict policy; the row's own may be stricter.
            self.origin = canonicalize_origin(self.origin, self.policy)
        except ValidationError as exc:
            raise ValidationError({"origin": exc.messages}) from None
        if self.trust_for_csrf and "*" in self.origin:
            # Patterns never extend CSRF trust (see Snapshot.trusts_for_csrf).
            raise ValidationError(
                {"trust_for_csrf": _("Only an exact origin can be trusted for CSRF, never a *. pattern.")},
                code="pattern_csrf",
            )

    @property
    def host_list(self) -> tuple[str, ...]:
        """The host scope entries, as a tuple; empty: every host."""
        return split_scopes(canonicalize_hosts(self.hosts))

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the row's expiry has passed (at ``now``, default the current time)."""
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class RefusedOrigin(models.Model):
    """An origin whose requests were refused, counted while ``RECORD_REFUSED`` is on.

    Written only by the background flush (:mod:`credcors.refused.flush`),
    never on the request path; at most ``REFUSED_MAX_ROWS`` rows.  Staff
    allow or dismiss them in the admin.
    """

    # Only serialized origins as browsers send them (printable ASCII, at most
    # 267 characters) are ever recorded; one row per origin, the policy
    # that refused it and the host it was sent to (issue 24).
    origin = models.CharField(_("origin"), max_length=300)
    count = models.BigIntegerField(_("refused requests"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    last_path = models.CharField(_("last path"), max_length=MAX_PATH_LENGTH, blank=True, default="")
    policy = models.CharField(_("policy"), max_length=MAX_POLICY_LENGTH, default="default")
    # The host Django accepted, without its port; "" when unknown: refusals
    # recorded before hosts were, and a WebSocket handshake without Host.
    host = models.CharField(_("host"), max_length=MAX_HOST_LENGTH, blank=True, default="")

    class Meta:
        ordering = ["-count", "-last_seen"]  # noqa: RUF012 - Django reads Meta, nobody mutates it
        verbose_name = _("refused origin")
        verbose_name_plural = _("refused origins")
        constraints = [  # noqa: RUF012
            models.UniqueConstraint(fields=["origin", "policy", "host"], name="credcors_refused_origin_policy_host"),
        ]
        # The eviction of the least recently seen rows reads them in this order.
        indexes = [models.Index(fields=["last_seen", "count"], name="credcors_refused_recent")]  # noqa: RUF012

    def __str__(self) -> str:
        return self.origin
