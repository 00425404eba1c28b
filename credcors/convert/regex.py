"""Translate a django-cors-headers origin regex into credcors ``*.`` patterns.

Used by :mod:`credcors.convert.origins` for ``CORS_ALLOWED_ORIGIN_REGEXES``.  Only
the common ``scheme://[subdomains]host[:port]$`` shapes are translated, each
with sentences saying how the patterns differ from the regex; anything else
returns ``None`` and is reported, never guessed.  A translation never
allows more than the regex did: where a ``*.`` pattern would (the regex
matched one label, or a narrower set of characters), :class:`WiderPattern`
says why.  Pure; standard library only.
"""

from __future__ import annotations

import re

__all__ = ["WiderPattern", "regex_to_patterns"]

# django-cors-headers runs re.match(regex, origin): anchored at the start, not
# at the end.  We translate "scheme://[subdomains]host[:port]$" shapes only.

# Character classes that match within one DNS label, and ones that also match dots.
_LABEL_CLASS = r"(?:\\w|\[(?:\\w|-|\\-|a-z|A-Z|0-9|\\d)+\]|\[\^\\?\.\])"
_DOTTED_CLASS = r"(?:\.|\[(?:\\w|-|\\-|a-z|A-Z|0-9|\\d|\\?\.)+\])"
_DOT = r"(?:\\\.|\\x2e)"
_SUBDOMAIN_RE = re.compile(
    rf"""
    (?:
        (?P<bare_label>{_LABEL_CLASS}[+*])(?:{_DOT})
      | (?P<bare_dotted>{_DOTTED_CLASS}[+*])(?:{_DOT})
      | \((?:\?:)?(?:(?P<group_label>{_LABEL_CLASS}[+*])|(?P<group_dotted>{_DOTTED_CLASS}[+*])
                     |(?P<group_literal>[a-z0-9-]+)){_DOT}\)(?P<quantifier>[?+*]?)
    )
    """,
    re.VERBOSE,
)
_SCHEME_RE = re.compile(r"(?P<scheme>https\?|https|http|\((?:\?:)?(?:https\|http|http\|https)\))(?::|\\:)(?://|\\/\\/)")
_HOST_RE = re.compile(r"(?P<host>(?:[A-Za-z0-9-]+(?:\\\.|\.))*[A-Za-z0-9-]+)")
_PORT_RE = re.compile(r":(?P<port>[0-9]{1,5})|(?P<any_port>\((?:\?:)?:(?:\\d|\[0-9\])[+*]\)\?)")
_END_RE = re.compile(r"(?P<end>\$|\\Z|/\?\$)?")
# The character classes that accept every character a *. label can have
# (hosts.LABEL: a-z, 0-9, "_" and "-"; hosts in Origin are lowercase).
_EVERY_LABEL_CHARACTER = (".", "[^.]", "[^\\.]")


class WiderPattern(ValueError):
    """A regex whose ``*.`` translation would allow origins the regex did not."""

    def __init__(self, problem: str, origins: list[str]) -> None:
        self.problem = problem
        #: What the translation would have been, for the hint.
        self.origins = origins
        super().__init__(problem)


def _missing_characters(class_text: str) -> str | None:
    # What a subdomain class of the regex refuses that a *. label accepts,
    # e.g. "-" for \w; None when it accepts all of them.
    if class_text in _EVERY_LABEL_CHARACTER:
        return None
    word = "\\w" in class_text
    missing = [
        name
        for name, present in (
            ("letters", word or "a-z" in class_text),
            ("digits", word or "0-9" in class_text or "\\d" in class_text),
            ("'_'", word),
            ("'-'", "-" in class_text.replace("a-z", "").replace("A-Z", "").replace("0-9", "")),
        )
        if not present
    ]
    if not missing:
        return None
    return missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"


def regex_to_patterns(regex: str) -> tuple[list[str], list[str]] | None:
    """Translate a django-cors-headers origin regex into credcors origins.

    Returns ``(origins, caveats)``: exact origins and ``*.`` patterns (not yet
    validated) and sentences describing how they differ from the regex (each
    allows less); or ``None`` when the regex has no such equivalent.  Raises
    :class:`WiderPattern` when the only ``*.`` translation would allow more.
    """
    text = regex[1:] if regex.startswith("^") else regex
    scheme_match = _SCHEME_RE.match(text)
    if scheme_match is None:
        return None
    scheme_text = scheme_match["scheme"]
    schemes = ["https"] if scheme_text == "https" else ["http"] if scheme_text == "http" else ["https", "http"]
    position = scheme_match.end()
    caveats: list[str] = []
    prefixes = [""]
    # Why a *. pattern would be wider than the regex: it matched one label
    # (credcors' *. covers one or more, see matcher.lookup_pattern), or it
    # refused characters a *. label may have.
    one_label = False
    missing: str | None = None
    class_text = ""
    sub = _SUBDOMAIN_RE.match(text, position)
    if sub is not None:
        position = sub.end()
        quantifier = sub["quantifier"] or ""
        if sub["group_literal"]:
            literal = sub["group_literal"]
            if quantifier == "?":
                prefixes = ["", f"{literal}."]
            elif quantifier == "":
                prefixes = [f"{literal}."]
            else:
                return None
        else:
            class_text = (sub["bare_label"] or sub["bare_dotted"] or sub["group_label"] or sub["group_dotted"])[:-1]
            one_label = bool(sub["bare_label"] or (sub["group_label"] and quantifier in ("", "?")))
            prefixes = ["", "*."] if quantifier in ("?", "*") else ["*."]
            missing = None if one_label else _missing_characters(class_text)
    host_match = _HOST_RE.match(text, position)
    if host_match is None:
        return None
    host_text = host_match["host"]
    if re.search(r"(?<!\\)\.", host_text):
        caveats.append(
            "An unescaped '.' in the regex matched any character (example.com also matched exampleXcom); "
            "the pattern matches only a real dot."
        )
    host = host_text.replace("\\.", ".")
    position = host_match.end()
    port = ""
    port_match = _PORT_RE.match(text, position)
    if port_match is not None:
        if port_match["any_port"]:
            caveats.append("The regex allowed any port; only the scheme's default port is kept, list others exactly.")
        else:
            port = f":{port_match['port']}"
        position = port_match.end()
    end_match = _END_RE.match(text, position)
    assert end_match is not None  # The pattern is all-optional, so it always matches.
    if end_match.end() != len(text):
        return None
    if not end_match["end"]:
        caveats.append(
            "The regex was not anchored with '$', so it also matched origins such as "
            f"{schemes[0]}://{prefixes[-1].replace('*.', 'a.')}{host}{port}.evil.com; the rewrite closes that hole."
        )
    origins = [f"{scheme}://{prefix}{host}{port}" for scheme in schemes for prefix in prefixes]
    if one_label:
        raise WiderPattern(
            f"Not converted: the regex matches exactly one label before {host!r}, and a *. pattern matches "
            f"any number of them ({schemes[0]}://a.b.{host}{port} too), so the rewrite would allow origins "
            "the regex did not.",
            [origin for origin in origins if "*." in origin],
        )
    if missing is not None:
        raise WiderPattern(
            f"Not converted: the regex's {class_text} before {host!r} matches no {missing}, which a *. "
            "pattern's labels may have, so the rewrite would allow origins the regex did not.",
            [origin for origin in origins if "*." in origin],
        )
    return origins, caveats
