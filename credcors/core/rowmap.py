"""Exact database-row origins of one policy, packed into a few flat arrays.

Held the obvious way (a dict from origin to a grant, each grant a tuple with
its rule, each rule with its host string) a database row retains about 450
bytes: 450 MB for a million allowed origins, in every process.  A
:class:`RowMap` keeps all its origins in one string, their offsets and row ids
in arrays, the CSRF flags in bytes and the expiries in an array, and finds
an origin through an open-addressing table of positions: about 60 bytes a
row (measured: ``bench/freshness.py``).  It is a read-only
``Mapping[str, Grant]``; the one grant a request asks for is built when it
asks (a rule and a grant tuple, about a microsecond), which is the price of
not keeping a million of them.

A lookup hashes the request's origin once and probes a table never more
than half full, so its cost does not grow with the number of rows.  Python's
string hash is keyed per process (``PYTHONHASHSEED``), so clients cannot
choose origins that collide.

A change of a few rows (:meth:`RowMap.changed`) does not rebuild the
arrays: the new map shares them and carries the changes in a small overlay
(origin to row, or ``None`` for a row gone), which a lookup consults first.
When the overlay grows past an eighth of the rows, the change compacts it
into new arrays.  Pure: never imports Django.
"""

from __future__ import annotations

import itertools
import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TypeAlias

from credcors.core.decision import Headers
from credcors.core.grants import Grant, grant_of
from credcors.core.origins import Rule

__all__ = ["Entry", "RowMap", "rule_of"]

#: One row: (canonical exact origin, row id, trusted for CSRF, expiry in seconds since the epoch or ``None``).
Entry: TypeAlias = tuple[str, int, bool, float | None]
#: What the overlay holds for a changed origin: (row id, trusted for CSRF, expiry), or ``None`` (gone).
_Live: TypeAlias = tuple[int, bool, float | None]

#: Fewest overlay entries that make a change compact the arrays (see :meth:`RowMap.changed`).
OVERLAY_MIN = 4096
_MISS = object()


def rule_of(origin: str) -> Rule:
    """The rule of a canonical exact origin, without validating it again.

    Only for strings that :func:`~credcors.core.origins.parse_rule` produced as a
    serialization: ``scheme://host`` or ``scheme://host:port``, the host an
    IPv6 literal in brackets or a name without ``:``.
    """
    scheme, _, rest = origin.partition("://")
    if not rest.endswith("]"):
        host, colon, port = rest.rpartition(":")
        if colon:
            return _new(Rule, (scheme, host, int(port), False))
    return _new(Rule, (scheme, rest, None, False))


#: Builds a named tuple from a tuple at C speed (a named tuple's own
#: ``__new__`` is Python code with keyword handling): these run per request.
_new = tuple.__new__


class RowMap(Mapping[str, Grant]):
    """The exact rows of one policy: origin to :class:`~credcors.core.grants.Grant`, read-only."""

    __slots__ = (
        "_added",
        "_blob",
        "_by_expiry",
        "_csrf",
        "_cursor",
        "_expires",
        "_live",
        "_mask",
        "_overlay",
        "_pks",
        "_slots",
        "_starts",
        "headers",
    )

    def __init__(self, headers: Headers, entries: Iterable[Entry] = ()) -> None:
        """Pack ``entries``; when two share an origin, the lower row id wins (the loader reads rows in id order)."""
        rows = sorted(entries, key=itemgetter(1))  # By id: a change finds its row by bisection.
        self._pack(
            headers,
            [row[0] for row in rows],
            array("q", map(itemgetter(1), rows)),
            bytes(map(itemgetter(2), rows)),
            [row[3] for row in rows],
            unique=len({row[0] for row in rows}) == len(rows),
        )

    @classmethod
    def from_columns(
        cls,
        headers: Headers,
        origins: list[str],
        ids: Sequence[int],
        csrf: bytes,
        expiries: Sequence[float | None] | None = None,
    ) -> RowMap:
        """Pack rows given as columns, already in id order (what a cold load reads): no tuple per row.

        The origins are one policy's, so the table's unique constraint on
        (origin, policy) makes each appear once: packing does not check it
        (a set of a million origins, 0.13 s of a cold load).
        """
        packed = cls.__new__(cls)
        packed._pack(headers, origins, array("q", ids), csrf, expiries, unique=True)
        return packed

    def _pack(
        self,
        headers: Headers,
        origins: list[str],
        pks: array[int],
        csrf: bytes,
        expiries: Sequence[float | None] | None,
        *,
        unique: bool,
    ) -> None:
        self.headers = headers
        self._blob = "".join(origins)
        self._starts = array("q", itertools.chain((0,), itertools.accumulate(map(len, origins))))
        self._pks = pks
        self._csrf = csrf
        timed = [] if expiries is None else sorted((at, n) for n, at in enumerate(expiries) if at is not None)
        # Per position, NaN for none (8 bytes a row, only when some row expires),
        # and the positions that expire, soonest first: a change then finds the
        # next expiry from where its parent's search stopped, never scanning them all.
        self._expires = array("d", (math.nan if at is None else at for at in expiries)) if timed and expiries else None
        self._by_expiry = array("i", (position for _, position in timed))
        self._cursor = 0
        size = 8
        while size < 2 * len(origins):
            size *= 2
        self._mask = mask = size - 1
        self._slots = slots = array("i", bytes(4 * size))  # Position + 1 per slot; 0 is empty.
        self._overlay: dict[str, _Live | None] = {}
        self._added: dict[int, str] = {}  # Row id to origin, for the overlay's live rows.
        self._live = 0
        if unique:
            # Every origin once: no slot can hold the same origin, so placing one compares nothing.
            for position, key in enumerate(map(hash, origins), 1):
                slot = key & mask
                while slots[slot]:
                    slot = (slot + 1) & mask
                slots[slot] = position
            self._live = len(origins)
            return
        for position, origin in enumerate(origins):
            slot = hash(origin) & mask
            while taken := slots[slot]:
                if self._origin(taken - 1) == origin:
                    break  # A second row with this origin stays in the arrays, dead.
                slot = (slot + 1) & mask
            else:
                slots[slot] = position + 1
                self._live += 1

    def _origin(self, position: int) -> str:
        return self._blob[self._starts[position] : self._starts[position + 1]]

    def _find(self, origin: str) -> int:
        """The position of ``origin`` in the arrays, or -1; the overlay may override it."""
        slots, mask, starts, blob = self._slots, self._mask, self._starts, self._blob
        slot = hash(origin) & mask
        while taken := slots[slot]:
            position = taken - 1
            if blob[starts[position] : starts[position + 1]] == origin:
                return position
            slot = (slot + 1) & mask
        return -1

    def _alive(self, position: int) -> bool:
        # Neither overridden by the overlay nor a duplicate left dead by packing.
        origin = self._origin(position)
        return origin not in self._overlay and self._find(origin) == position

    def _holds(self, origin: str, overlay: Mapping[str, _Live | None]) -> bool:
        # Whether a live row holds ``origin`` under ``overlay`` (one being built).
        hit = overlay.get(origin, _MISS)
        return self._find(origin) >= 0 if hit is _MISS else hit is not None

    def get(self, origin: str, default: Grant | None = None) -> Grant | None:  # type: ignore[override]
        """The grant of ``origin`` (a request's ``Origin`` value), else ``default``.

        Per request, so written out in one function (each method call would
        add a tenth of a microsecond): the probe of :meth:`_find`, then the
        grant built at C speed.
        """
        overlay = self._overlay
        if overlay:
            hit = overlay.get(origin, _MISS)
            if hit is not _MISS:
                if hit is None:
                    return default
                live: _Live = hit  # type: ignore[assignment]
                return grant_of(rule_of(origin), origin, live[0], self.headers, live[1], live[2])
        slots, mask, starts, blob = self._slots, self._mask, self._starts, self._blob
        slot = hash(origin) & mask
        while taken := slots[slot]:
            position = taken - 1
            if blob[starts[position] : starts[position + 1]] == origin:
                expiries = self._expires
                at = None if expiries is None else expiries[position]
                expires = None if at is None or at != at else at  # NaN, never equal to itself: no expiry.
                pk, csrf = self._pks[position], self._csrf[position] == 1
                return grant_of(rule_of(origin), origin, pk, self.headers, csrf, expires)
            slot = (slot + 1) & mask
        return default

    def __getitem__(self, origin: str) -> Grant:
        grant = self.get(origin)
        if grant is None:
            raise KeyError(origin)
        return grant

    def __contains__(self, origin: object) -> bool:
        return isinstance(origin, str) and self._holds(origin, self._overlay)

    def __len__(self) -> int:
        return self._live

    def __iter__(self) -> Iterator[str]:
        """The origins: unchanged rows in id order, then changed ones."""
        return (entry[0] for entry in self.entries())

    def entries(self) -> Iterator[Entry]:
        """Every live row as an :data:`Entry`: unchanged rows in id order, then changed ones."""
        pks, csrf = self._pks, self._csrf
        for position in range(len(pks)):
            if self._alive(position):
                yield self._origin(position), pks[position], bool(csrf[position]), self._expiry(position)
        for origin, hit in self._overlay.items():
            if hit is not None:
                yield origin, *hit

    def origin_of(self, pk: int) -> str | None:
        """The origin row ``pk`` holds here, or ``None`` when it holds none."""
        origin = self._added.get(pk)
        if origin is not None:
            return origin
        pks = self._pks
        position = bisect_left(pks, pk)
        if position < len(pks) and pks[position] == pk and self._alive(position):
            return self._origin(position)
        return None

    def _expiry(self, position: int) -> float | None:
        expires = self._expires
        at = math.nan if expires is None else expires[position]
        return None if math.isnan(at) else at

    def _timed(self) -> Iterator[tuple[int, float]]:
        # (position, expiry) of the unchanged live rows that expire, soonest first.
        expires = self._expires
        for position in itertools.islice(self._by_expiry, self._cursor, None):
            if self._alive(position):
                assert expires is not None
                yield position, expires[position]

    def _overlay_timed(self) -> Iterator[tuple[int, float]]:
        # (row id, expiry) of the changed live rows that expire.
        return ((hit[0], hit[2]) for hit in self._overlay.values() if hit is not None and hit[2] is not None)

    @property
    def next_expiry(self) -> float | None:
        """The earliest expiry of a live row, or ``None``."""
        first = next(self._timed(), None)
        soonest = [at for _, at in self._overlay_timed()] + ([] if first is None else [first[1]])
        return min(soonest, default=None)

    def expired(self, now: float) -> list[int]:
        """The ids of the live rows whose expiry is ``now`` or earlier."""
        ids = [pk for pk, at in self._overlay_timed() if at <= now]
        for position, at in self._timed():
            if at > now:
                break
            ids.append(self._pks[position])
        return ids

    def changed(self, removed: Iterable[int] = (), added: Iterable[Entry] = ()) -> RowMap:
        """This map without the rows ``removed`` (ids), then with ``added``; ``self`` stays as it was.

        An added origin that a live row already holds is left out (the first
        one wins, as when packing).  The new map shares the arrays, unless
        its overlay outgrows :data:`OVERLAY_MIN` and an eighth of them: then
        it is packed anew, which keeps lookups at one probe sequence and the
        cost of a change proportional to what changed, amortized.
        """
        overlay = dict(self._overlay)
        by_id = dict(self._added)
        live = self._live
        for pk in removed:
            origin = self.origin_of(pk)
            if origin is not None and self._holds(origin, overlay):
                overlay[origin] = None
                by_id.pop(pk, None)
                live -= 1
        for origin, pk, csrf, expires in added:
            if not self._holds(origin, overlay):
                overlay[origin] = (pk, bool(csrf), expires)
                by_id[pk] = origin
                live += 1
        new = RowMap.__new__(RowMap)
        new.headers, new._blob, new._starts, new._pks = self.headers, self._blob, self._starts, self._pks
        new._csrf, new._expires, new._slots, new._mask = self._csrf, self._expires, self._slots, self._mask
        new._overlay, new._added, new._live = overlay, by_id, live
        # Rows of the arrays only ever die in a chain of changes: start the
        # next search for an expiry past those that died by now.
        new._by_expiry, new._cursor = self._by_expiry, self._cursor
        while new._cursor < len(new._by_expiry) and not new._alive(new._by_expiry[new._cursor]):
            new._cursor += 1
        if len(overlay) > max(OVERLAY_MIN, len(self._pks) // 8):
            return RowMap(self.headers, new.entries())
        return new
