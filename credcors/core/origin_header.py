"""What a browser puts in a request's ``Origin`` header: classify it, split it.

Requests' ``Origin`` values are classified by :func:`classify_origin` and split
by :func:`split_wire_origin`, here and nowhere else; the facts of the
serialization they rely on (default ports, the longest origin, the schemes
app shells send) live here too, and :mod:`credcors.core.origins`, the validator of
allow-list entries, imports them.  Bounded work for any input; it never
imports Django.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType

from credcors.core.hosts import LABEL_CHARS, MAX_PORT

__all__ = [
    "APP_SCHEMES",
    "DEFAULT_PORTS",
    "MAX_ORIGIN_LENGTH",
    "OriginShape",
    "classify_origin",
    "is_app_host",
    "split_wire_origin",
    "valid_port",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_APP_HOST = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: The schemes app shells put in ``Origin``, each with the one host form it sends
#: (checked against what the platforms document and their users report):
#: Capacitor on iOS (``capacitor://localhost``), Ionic's Cordova web view on iOS
#: (``ionic://localhost``), Tauri on macOS and Linux (``tauri://localhost``;
#: on Windows it is ``http(s)://tauri.localhost``, an ordinary origin), and
#: browser extensions' own pages: Chrome's 32-letter id, Firefox's per-install
#: UUID, Safari's per-install UUID, which Safari sends in upper case.
#: Listed exactly, never as patterns: each is one app, not a family of hosts.
APP_SCHEMES: Mapping[str, str] = MappingProxyType(
    {
        "capacitor": _APP_HOST,
        "ionic": _APP_HOST,
        "tauri": _APP_HOST,
        "chrome-extension": "[a-p]{32}",
        "moz-extension": _UUID,
        "safari-web-extension": _UUID.replace("a-f", "A-F"),
    }
)
_APP_RES = {scheme: re.compile(host) for scheme, host in APP_SCHEMES.items()}

#: No serialized origin is longer: "https://" + a 253-octet host + ":65535".
MAX_ORIGIN_LENGTH = 8 + 253 + 6

_PORT = r"(?::([0-9]{1,5}))?"
_HOST_CHARS = LABEL_CHARS + "."
# What the host of an Origin header on a domain name or IPv4 address may be
# made of; and one on an IPv6 address, which only exact rules can match:
_WIRE_IPV6_RE = re.compile(rf"https?://\[[0-9a-f:.]{{2,45}}\]{_PORT}")


class OriginShape(enum.Enum):
    """What a request's ``Origin`` value is, before any allow-list is asked."""

    SERIALIZED = "serialized"  # scheme://host[:port], exactly as browsers send it
    NULL = "null"
    MULTIPLE = "multiple"
    TOO_LONG = "too-long"
    MALFORMED = "malformed"


def classify_origin(value: str) -> OriginShape:
    """Classify a request's ``Origin`` header value; bounded work for any input."""
    if len(value) > MAX_ORIGIN_LENGTH:
        return OriginShape.TOO_LONG
    if value == "null":
        return OriginShape.NULL
    if "," in value or " " in value:
        return OriginShape.MULTIPLE
    if split_wire_origin(value) is None and _wire_ipv6_port(value) is None and not _is_app_origin(value):
        return OriginShape.MALFORMED
    return OriginShape.SERIALIZED


def _is_app_origin(value: str) -> bool:
    # Only refusals get here: an allowed app origin is an exact dict hit.
    scheme, separator, host = value.partition("://")
    return bool(separator) and scheme in _APP_RES and is_app_host(scheme, host)


def is_app_host(scheme: str, host: str) -> bool:
    """Whether ``host`` is the one host form the app shell of ``scheme`` (a key of :data:`APP_SCHEMES`) sends."""
    return _APP_RES[scheme].fullmatch(host) is not None


def _wire_ipv6_port(value: str) -> str | None:
    match = _WIRE_IPV6_RE.fullmatch(value)
    if match is None:
        return None
    return valid_port(value.partition("://")[0], match.group(1))


def valid_port(scheme: str, port_text: str | None) -> str | None:
    """The port of a serialized origin: "" for none, the text of one a browser would send, else None.

    Browsers never send a scheme's default port, a leading zero, or more than
    five digits (URL §4.4 serializes the port as the shortest decimal).
    """
    if port_text is None:
        return ""
    if (
        not 0 < len(port_text) <= 5
        or not port_text.isdigit()
        or not port_text.isascii()
        or port_text[0] == "0"
        or int(port_text) > MAX_PORT
        or int(port_text) == DEFAULT_PORTS[scheme]
    ):
        return None
    return port_text


def split_wire_origin(value: str) -> tuple[str, str, int | None] | None:
    """Split a request's ``Origin`` on a domain name or IPv4 address into (scheme, host, port).

    Only what a browser sends is accepted: lowercase, no trailing dot, no
    default port spelled out; anything else (IPv6 included) is ``None``.
    Callers bound the length before calling.  String methods rather than a
    regex: this runs for every request that a pattern may allow.
    """
    if value.startswith("https://"):
        scheme, rest = "https", value[8:]
    elif value.startswith("http://"):
        scheme, rest = "http", value[7:]
    else:
        return None
    host, colon, port_text = rest.partition(":")
    if (
        not host
        or len(host) > 253
        or host.strip(_HOST_CHARS)  # Empty only when every character is one a host may have.
        or host[0] == "."
        or host[-1] == "."
        or ".." in host
        or (len(host) > 63 and max(map(len, host.split("."))) > 63)
    ):
        return None
    if not colon:
        return scheme, host, None
    if valid_port(scheme, port_text) is None:
        return None
    return scheme, host, int(port_text)
