"""Quote request input so that it is safe in a log line, a terminal, HTML and an HTTP header.

Everything credcors writes about a request goes through :func:`safe`, which
escapes every character that is not printable ASCII and bounds the length, so
no CR/LF, terminal escape or bidi control from an ``Origin`` header ever
reaches a log line, a terminal or a response header.

Two narrower helpers serve values that are stored and shown as text:
:func:`storable` replaces what a database may refuse (PostgreSQL refuses NUL
in text, and no codec encodes a lone surrogate) before a value is written,
and :func:`without_bidi` escapes what would reorder a page when it is shown.
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "safe", "scrub", "storable", "without_bidi"]

#: What :func:`storable` puts in place of a character it cannot store.
REPLACEMENT = "\ufffd"
# C0 controls (NUL among them), DEL, C1 controls, and lone surrogates.
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Characters that reorder the text around them (Unicode's bidirectional
# controls: embeddings, overrides, isolates, marks), and the controls that
# :func:`storable` replaces, should a value written before it reach a page.
_REORDERING = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x1f\x7f-\x9f\ud800-\udfff]")

_QUOTE_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def _escape_char(char: str, quotes: bool = True) -> str:
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return _QUOTE_ESCAPES.get(char, char) if quotes else char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(value: object, limit: int = 120) -> str:
    """``value`` as a double-quoted, printable-ASCII string of bounded length.

    Every character outside printable ASCII is escaped (``\\r``, ``\\x1b``,
    ``\\u202e`` ...), ``"`` and ``\\`` are backslash-escaped, and the escaped
    text is cut at ``limit`` characters with a count of what was left out.
    The result is safe in a log line, a terminal and an HTTP header value.
    """
    text = value if isinstance(value, str) else repr(value)
    out: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape_char(char)
        if used + len(piece) > limit:
            return '"' + "".join(out) + f'"...(+{len(text) - index} chars)'
        out.append(piece)
        used += len(piece)
    return '"' + "".join(out) + '"'


def scrub(text: str, limit: int = 600) -> str:
    """Like :func:`safe` but unquoted: for messages that already quote their parts."""
    if len(text) <= limit and text.isascii() and text.isprintable():
        return text  # nothing to escape or cut: the common case, 100,000 times in a big import's preview
    out: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape_char(char, quotes=False)
        if used + len(piece) > limit:
            return "".join(out) + f"...(+{len(text) - index} chars)"
        out.append(piece)
        used += len(piece)
    return "".join(out)


def storable(text: str) -> str:
    """``text`` with every control character and lone surrogate replaced by U+FFFD, so any database stores it.

    Linear in the length; other characters (bidirectional controls
    included, which :func:`without_bidi` escapes when shown) are kept.
    """
    return _UNSTORABLE.sub(REPLACEMENT, text)


def without_bidi(text: str) -> str:
    """``text`` with bidirectional and other control characters written as escapes (``\\u202e``), for a page.

    Everything else is kept as it is: the page's own escaping still
    applies.  A right-to-left override in a stored path then shows as
    ``\\u202e`` instead of turning the rest of the table around.
    """
    return _REORDERING.sub(lambda found: _escape_char(found.group(), quotes=False), text)
