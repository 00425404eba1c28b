"""How the admin's lists show a long value: shortened in the cell, whole on hover and on the row's own page."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

__all__ = ["moment", "shortened"]


def shortened(value: str, limit: int, breaks_after: str = "") -> str | SafeString:
    """``value`` as a list cell: itself up to ``limit`` characters, else cut with "…" and whole in its title.

    Cut on the server, not by CSS: the cell then wraps like any text (a
    change list at 1280 px has no room for a 100-character note or path on
    one line), and what it shows is what a screen reader reads.  A line may
    also break after each character of ``breaks_after`` (a path's ``/``: one
    long word otherwise).  Escaped.
    """
    if len(value) <= limit:
        return _breakable(value, breaks_after)
    cut = value[: limit - 1]
    if " " in cut and not value[limit - 1].isspace():
        # Text ends on a whole word ("ask Dana…", not "ask Da…"); a path has no spaces.
        cut = cut.rsplit(" ", 1)[0]
    return format_html('<span title="{}">{}…</span>', value, _breakable(cut.rstrip(), breaks_after))


def _breakable(text: str, breaks_after: str) -> str | SafeString:
    if not breaks_after:
        return text
    # <wbr>: a line may break here, and nothing is shown or copied.
    return mark_safe("".join(escape(char) + ("<wbr>" if char in breaks_after else "") for char in text))


def moment(value: datetime.datetime) -> SafeString:
    """A date and time as two lines that each stay whole ("Dec. 6, 2026" over "7:50 p.m."), in local time.

    Django's list keeps a date column on one line (``nowrap``), about 160 px:
    more than a change list beside the filters can spare at 1280 px.
    """
    local = timezone.localtime(value)
    return format_html(
        '<span class="credcors-moment">{}</span> <span class="credcors-moment">{}</span>',
        date_format(local, "DATE_FORMAT"),
        time_format(local, "TIME_FORMAT"),
    )
