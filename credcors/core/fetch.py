"""Facts of the WHATWG Fetch standard and HTTP that credcors relies on.

One home for each: the token grammar, the methods browsers normalize, the
forbidden request-header names, the CORS-safelisted methods and headers, and
the names of the CORS response headers.  Pure: it imports only the standard
library, so the settings parser, the decision code and the diagnostics share
the very same definitions.
"""

from __future__ import annotations

import re

__all__ = [
    "ACCESS_CONTROL_ALLOW_CREDENTIALS",
    "ACCESS_CONTROL_ALLOW_HEADERS",
    "ACCESS_CONTROL_ALLOW_METHODS",
    "ACCESS_CONTROL_ALLOW_ORIGIN",
    "ACCESS_CONTROL_EXPOSE_HEADERS",
    "ACCESS_CONTROL_MAX_AGE",
    "FORBIDDEN_METHODS",
    "MAX_METHOD_LENGTH",
    "MAX_REQUEST_HEADERS_LENGTH",
    "MAX_REQUEST_HEADER_NAMES",
    "NORMALIZED_METHODS",
    "SAFELISTED_METHODS",
    "SAFELISTED_REQUEST_HEADERS",
    "is_forbidden_request_header",
    "is_token",
    "normalize_method",
    "parse_request_headers",
]

ACCESS_CONTROL_ALLOW_ORIGIN = "access-control-allow-origin"
ACCESS_CONTROL_ALLOW_CREDENTIALS = "access-control-allow-credentials"
ACCESS_CONTROL_ALLOW_METHODS = "access-control-allow-methods"
ACCESS_CONTROL_ALLOW_HEADERS = "access-control-allow-headers"
ACCESS_CONTROL_EXPOSE_HEADERS = "access-control-expose-headers"
ACCESS_CONTROL_MAX_AGE = "access-control-max-age"

#: Longest ``Access-Control-Request-Headers`` value worth reading.  Browsers
#: send the lowercase, sorted, comma-joined names of the non-safelisted
#: headers a script set (Fetch §4.8 "CORS-preflight fetch"), typically under
#: 100 bytes; 1 KiB holds dozens of real names and keeps a hostile value's
#: cost to one length test.
MAX_REQUEST_HEADERS_LENGTH = 1024

#: Most names an ``Access-Control-Request-Headers`` may list.  A browser lists
#: only the non-safelisted headers a script set; no real page sets 64, and the
#: bound lets a hostile thousand-name list be refused by one count of commas.
MAX_REQUEST_HEADER_NAMES = 64

#: No real method is longer; longer values are refused unread.
MAX_METHOD_LENGTH = 64

#: Fetch §2.2.1 "normalize a method": browsers upper-case only these, so a
#: script's ``"patch"`` stays ``"patch"`` on the wire.
NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})

#: Fetch §2.2.1 "forbidden method": scripts can never send these.
FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})

#: Fetch §2.2.1 "CORS-safelisted method": sent without a preflight.
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})

#: Fetch §2.2.2 "CORS-safelisted request-header" names that are safelisted
#: whatever their value.  ``content-type`` is safelisted only for the three
#: form encodings, so credcors treats it as the ``application/json`` it
#: usually is, which needs a preflight.
SAFELISTED_REQUEST_HEADERS = frozenset({"accept", "accept-language", "content-language"})

# Fetch §2.2.2 "forbidden request-header name": scripts cannot set these, so
# allowing them only hides a misunderstanding.
_FORBIDDEN_REQUEST_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)
_FORBIDDEN_PREFIXES = ("proxy-", "sec-")

# RFC 9110 §5.6.2 token: what a method or header name may be made of.
_TOKEN_CHARS = "!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# What a list of tokens with optional spaces around each may contain; and the
# one shape that such characters can still get wrong: a space inside a name.
_HEADER_LIST_BYTES = (_TOKEN_CHARS + ", \t").encode("ascii")
_SPACE_IN_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-][ \t]+[!#$%&'*+.^_`|~0-9A-Za-z-]")


def is_token(value: str) -> bool:
    """Whether ``value`` is an HTTP token (RFC 9110 §5.6.2): a method or header name."""
    return _TOKEN_RE.fullmatch(value) is not None


def normalize_method(method: str) -> str:
    """The method as ``fetch()`` sends it: only the six standard names are upper-cased."""
    upper = method.upper()
    return upper if upper in NORMALIZED_METHODS else method


def is_forbidden_request_header(name: str) -> bool:
    """Whether scripts can never set this (lowercase) request header (Fetch §2.2.2)."""
    return name in _FORBIDDEN_REQUEST_HEADERS or name.startswith(_FORBIDDEN_PREFIXES)


def parse_request_headers(value: str) -> list[str] | None:
    """Split ``Access-Control-Request-Headers`` into lowercase names.

    Returns ``None`` when a name is not an HTTP token.  Callers bound the
    length first.
    """
    # Two scans in C rather than a regex per name: every byte must be a token
    # character, a comma or white space, and no white space may sit inside a name.
    if not value.isascii() or value.encode("ascii").translate(None, _HEADER_LIST_BYTES):
        return None
    value = value.lower()
    if " " in value or "\t" in value:
        if _SPACE_IN_NAME_RE.search(value) is not None:
            return None
        value = value.replace(" ", "").replace("\t", "")
    return list(filter(None, value.split(",")))
