"""The admin's own form fields for ``AllowedOrigin``: the "Test an origin" form, and the hosts box."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http.request import split_domain_port
from django.utils.translation import gettext_lazy as _

from credcors.conf import get_config
from credcors.core.config.policies import DEFAULT_POLICY
from credcors.core.scopes import ScopeError, canonical_scope
from credcors.rows.edit import host_scope

__all__ = ["HostsField", "TestOriginForm"]


class TestOriginForm(forms.Form):
    """The inputs of ``manage.py credcors explain``, as a form."""

    # Not stripped: a stray space is one of the things being diagnosed.
    origin = forms.CharField(label=_("Origin"), max_length=2000, strip=False)
    method = forms.CharField(label=_("Method"), max_length=100, initial="GET")
    headers = forms.CharField(
        label=_("Request headers"),
        max_length=5000,
        required=False,
        help_text=_("Headers the page's script sets, separated by commas."),
    )
    path = forms.CharField(label=_("Path"), max_length=2000, required=False, strip=False)
    host = forms.CharField(
        label=_("Host"),
        max_length=300,
        required=False,
        help_text=_(
            "The API host the request is sent to, as the browser would send Host; empty: a host no row is scoped to."
        ),
    )
    kind = forms.ChoiceField(
        label=_("Request"),
        choices=[
            ("http", _("A browser call")),
            ("websocket", _("A WebSocket handshake")),
        ],
        initial="http",
        required=False,
        help_text=_(
            "A browser call is fetch(), XMLHttpRequest or a form. A WebSocket handshake is what "
            "credcors.websocket.OriginValidator decides: a GET from the origin, with no preflight, so method and "
            "headers are not used."
        ),
    )
    policy = forms.ChoiceField(
        label=_("Validator's policy"),
        initial=DEFAULT_POLICY,
        required=False,
        help_text=_(
            "For a WebSocket handshake: the policy given to OriginValidator(application, policy=...). "
            "A browser call takes its policy from the view at its path."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # This process's policies, read when the page is drawn: settings can change between deploys.
        cast(forms.ChoiceField, self.fields["policy"]).choices = [(name, name) for name in get_config().policy_names]

    @property
    def websocket(self) -> bool:
        return self.is_valid() and self.cleaned_data["kind"] == "websocket"

    def clean_host(self) -> str:
        """One concrete host, canonical and without its port (as the middleware compares it); ``""``: none given."""
        value: str = self.cleaned_data["host"]
        if not value:
            return ""
        # A browser's Host may carry a port, which scopes never compare.
        domain, _port = split_domain_port(value)
        if value.startswith("."):
            raise ValidationError(
                _("%(value)r is a domain; a request is sent to one host. Write e.g. %(host)r.")
                % {"value": value, "host": value[1:]},
                code="invalid_host",
            )
        try:
            return canonical_scope(domain or value)
        except ScopeError as exc:
            raise ValidationError(exc.message, code="invalid_host") from None


class HostsField(forms.CharField):
    """The row's hosts box: canonical entries, each one a host that ``ALLOWED_HOSTS`` lets reach credcors.

    An entry no accepted host can match would make the row allow nothing
    there, which is a typo rather than a wish: the form says so on the
    field, the typed text stays in the box, and nothing is saved.
    """

    def clean(self, value: Any) -> str:
        text: str = super().clean(value)
        try:
            # The command line's and the import's rule and words (credcors.rows.edit).
            return host_scope(text)
        except ScopeError as exc:
            raise ValidationError(exc.message, code="invalid_hosts") from None
