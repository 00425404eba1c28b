"""The vocabulary of an answer: what a request is, why it was decided, the headers that carry it.

:class:`Decision` is what :func:`credcors.core.decide.decide` returns and what the
middleware writes; :class:`Headers` is what every allowed response of one
policy sends after its ``Access-Control-Allow-Origin``, built once per
snapshot.  :mod:`credcors.core.snapshot` compiles grants that carry prebuilt
decisions from these.  Pure: never imports Django.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from credcors.core.fetch import (
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
)
from credcors.core.origins import Rule

__all__ = ["Decision", "Header", "Headers", "Kind", "Reason"]

Header = tuple[str, str]


class Kind(enum.Enum):
    """What the Fetch standard makes of a request."""

    NOT_CORS = "not-cors"  # No Origin header: not a CORS request at all.
    PREFLIGHT = "preflight"  # OPTIONS + Origin + Access-Control-Request-Method.
    ACTUAL = "actual"  # Any other request carrying Origin.


class Reason(enum.Enum):
    """Machine-readable cause of a decision; stable, used in logs and JSON."""

    NO_ORIGIN = "no-origin"
    ALLOWED = "allowed"
    NULL_ORIGIN = "null-origin"
    MULTIPLE_ORIGINS = "multiple-origins"
    ORIGIN_TOO_LONG = "origin-too-long"
    MALFORMED_ORIGIN = "malformed-origin"
    ORIGIN_NOT_ALLOWED = "origin-not-allowed"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    MALFORMED_METHOD = "malformed-method"
    HEADER_NOT_ALLOWED = "header-not-allowed"
    REQUEST_HEADERS_TOO_LONG = "request-headers-too-long"
    MALFORMED_REQUEST_HEADERS = "malformed-request-headers"
    UNKNOWN_POLICY = "unknown-policy"
    DISALLOWED_HOST = "disallowed-host"


class Decision(NamedTuple):
    """The verdict on one request and the exact headers that carry it.

    ``source`` is the database row id of the rule that matched, ``None`` for
    a settings entry.  ``detail`` names the refused method or header when
    there is one: it is request input, so callers that log or display it
    must quote it safely.  A tuple, so building one for a pattern match costs
    a fraction of a frozen dataclass.
    """

    kind: Kind
    allowed: bool
    reason: Reason
    headers: tuple[Header, ...] = ()
    rule: Rule | None = None
    source: int | None = None
    detail: str | None = None

    @property
    def status(self) -> int | None:
        """The status the middleware answers a preflight with, else None.

        204 for an allowed preflight, and for a refused one that carries
        headers (an allowed origin asking for a method or header outside
        the lists, see :mod:`credcors.core.decide`); 403 for a refused origin.
        """
        if self.kind is not Kind.PREFLIGHT:
            return None
        return 204 if self.allowed or self.headers else 403


@dataclass(frozen=True, slots=True)
class Headers:
    """What every allowed response of one policy sends after its ``Access-Control-Allow-Origin``."""

    allow_methods: frozenset[str]
    allow_headers: frozenset[str]
    credentials: bool
    actual: tuple[Header, ...]
    preflight: tuple[Header, ...]
    allow_methods_value: str

    @classmethod
    def build(
        cls,
        *,
        allow_methods: Iterable[str],
        allow_headers: Iterable[str],
        expose_headers: Iterable[str] = (),
        credentials: bool = True,
        max_age: int = 600,
    ) -> Headers:
        methods = tuple(dict.fromkeys(allow_methods))
        names = tuple(dict.fromkeys(name.lower() for name in allow_headers))
        exposed = ", ".join(dict.fromkeys(expose_headers))
        credential: tuple[Header, ...] = ((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),) if credentials else ()
        # Fetch §4.8 "CORS-preflight fetch": the browser checks that every
        # method and header it asked for is listed; listing all that are
        # allowed (as Starlette and django-cors-headers do) lets the whole
        # answer be built here, once.
        preflight = (
            *credential,
            (ACCESS_CONTROL_ALLOW_METHODS, ", ".join(methods)),
            *(((ACCESS_CONTROL_ALLOW_HEADERS, ", ".join(names)),) if names else ()),
            (ACCESS_CONTROL_MAX_AGE, str(max_age)),
        )
        return cls(
            allow_methods=frozenset(methods),
            allow_headers=frozenset(names),
            credentials=credentials,
            actual=(*credential, *(((ACCESS_CONTROL_EXPOSE_HEADERS, exposed),) if exposed else ())),
            preflight=preflight,
            allow_methods_value=", ".join(methods),
        )
