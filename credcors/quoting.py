"""Quote request input so that it is safe in a log line, a terminal, HTML and an HTTP header.

Everything credcors writes about a request goes through :func:`safe`, which
escapes every character that is not printable ASCII and bounds the length, so
no CR/LF, terminal escape or bidi control from an ``Origin`` header ever
reaches a log line, a terminal or a response header.
"""

from __future__ import annotations

__all__ = ["safe", "scrub"]

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
