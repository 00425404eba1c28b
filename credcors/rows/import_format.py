"""Read an import into entries: the file's size and encoding, one origin a line, or a JSON list.

What ``manage.py credcors import`` and the admin's import page read, before
:mod:`credcors.rows.importing` checks each :class:`Entry` with the one validator
and writes them.  Nothing here touches the database; every value from the
file is quoted with :func:`credcors.core.quoting.safe` in a :class:`ImportProblem`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credcors.core.config.policies import is_policy_name
from credcors.core.quoting import safe
from credcors.rows.lifetime import NEVER

__all__ = [
    "BAD_ENTRY",
    "MAX_IMPORT_BYTES",
    "TEXT_HEADER_PREFIX",
    "Entry",
    "ImportProblem",
    "PolicyConflict",
    "decode_import",
    "format_of",
    "header_policy",
    "parse_entries",
    "read_file",
    "resolve_policy",
    "split_comment",
    "split_line",
]

#: How a text export's first line starts (:func:`credcors.rows.export_format.text_header`); the quoted
#: policy name follows, read back by :func:`header_policy`.
TEXT_HEADER_PREFIX = "# credcors allowed origins of the policy "
#: Bigger files are refused before they are read: an allow-list is not that big.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class ImportProblem(Exception):
    """Why nothing was imported, in words ready to show."""


class PolicyConflict(ImportProblem):
    """A text export's header names another policy than the one chosen (see :func:`resolve_policy`)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of an import: where it was (``line 3``, ``entry 2``) and what it says."""

    where: str
    origin: str
    enabled: bool | None = None
    note: str | None = None
    policy: str | None = None
    trust_for_csrf: bool | None = None
    #: The expiry as written (an ISO date-time, a duration, ``never``), or ``None``: leave it as it is.
    expires: str | None = None
    #: The host entries as written (``()``: every host, JSON only), or ``None``: leave the row's as they are.
    hosts: tuple[object, ...] | None = None


# "ORIGIN  # expires WHEN  # hosts HOST ...": the comments an origin line may carry (an origin never holds " #").
_EXPIRES = "expires"
_HOSTS = "hosts"

#: Marks a JSON entry of the wrong shape (as its ``origin``); reported with its
#: number together with invalid origins, so one run shows every problem.
BAD_ENTRY: Any = object()
# What a JSON entry may say; an export writes all of them.
_JSON_KEYS = frozenset({"origin", "enabled", "note", "policy", "trust_for_csrf", "expires_at", "hosts"})


def format_of(filename: str, fmt: str = "auto") -> str:
    """``json`` or ``text``: ``auto`` goes by the file name's suffix."""
    if fmt != "auto":
        return fmt
    return "json" if Path(filename).suffix.lower() == ".json" else "text"


def read_file(path: Path) -> str:
    """A file's text, refusing what is too big or not UTF-8 (see :func:`decode_import`)."""
    name = safe(str(path), 200)
    try:
        with path.open("rb") as file:
            # One byte more than the limit is enough to refuse a bigger file.
            data = file.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise ImportProblem(f"cannot read {name}: {exc.strerror or type(exc).__name__}.") from None
    return decode_import(data, name)


def decode_import(data: bytes, name: str) -> str:
    """The text of an import (a file, an upload, a pasted list), refusing what is too big or not UTF-8.

    The one place :data:`MAX_IMPORT_BYTES` is enforced, for the command and the admin alike.
    ``name`` says where the bytes came from, already quoted.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportProblem(
            f"{name} is larger than {MAX_IMPORT_BYTES:,} bytes, the most an import reads; split it into smaller files."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"{name} is not UTF-8 text (byte {exc.start}).") from None


def parse_entries(text: str, fmt: str, name: str) -> list[Entry]:
    """The entries of ``text``: one origin a line (``#`` comments), or a JSON list.

    ``name`` says where the text came from, already quoted, for messages.
    A text line's hosts are a comment on the line itself (see
    :func:`split_line`), never a line that applies to the lines below it:
    sorting, filtering or deleting lines then never moves an origin onto
    another tenant's hosts.
    """
    if fmt == "json":
        return _json_entries(text, name)
    entries = []
    for number, line in enumerate(text.split("\n"), start=1):
        value = line.removesuffix("\r")
        if not value.strip() or value.lstrip().startswith("#"):
            continue
        origin, expires, hosts = split_line(value)
        entries.append(Entry(f"line {number}", origin, expires=expires, hosts=hosts))
    return entries


def split_comment(line: str) -> tuple[str, str | None]:
    """``line`` without its comment, and the ``WHEN`` of its ``# expires WHEN`` comment (else ``None``)."""
    origin, expires, _ = split_line(line)
    return origin, expires


def split_line(line: str) -> tuple[str, str | None, tuple[str, ...] | None]:
    """``line`` without its comment, the ``WHEN`` of ``# expires WHEN``, and the hosts of ``# hosts HOST ...``.

    A comment starts at the first ``#`` after whitespace, and may hold
    several, in any order: ``ORIGIN  # expires 2026-12-31T18:00:00Z  # hosts
    api.customer-a.com .customer-b.com``, as ``export`` writes a row with an
    expiry and hosts.  Any other comment is ignored; the first ``expires``
    (``hosts``) comment counts.  ``None``: the line says nothing about it.
    ``# hosts`` with no host gives ``("",)``, which the import refuses: a
    comment cut short never widens an entry to every host.
    Each character is looked at a bounded number of times, so a long line
    costs linear time (a backtracking regex took seconds on a run of spaces).
    """
    hash_at = line.find("#", 1)
    while hash_at != -1 and not line[hash_at - 1].isspace():
        hash_at = line.find("#", hash_at + 1)
    if hash_at == -1:
        return line, None, None
    start = hash_at - 1  # the whitespace before the "#" belongs to the comment
    while start > 0 and line[start - 1].isspace():
        start -= 1
    expires: str | None = None
    hosts: tuple[str, ...] | None = None
    for comment in line[hash_at + 1 :].split("#"):
        words = comment.split()
        if expires is None and len(words) >= 2 and words[0] == _EXPIRES:
            expires = words[1]
        elif hosts is None and words[:1] == [_HOSTS]:
            # A bare "# hosts" gives one empty host, which the import refuses.
            hosts = tuple(words[1:]) or ("",)
    return line[:start], expires, hosts


def header_policy(text: str) -> str | None:
    """The policy a text export's header names, or ``None`` for a text without one.

    Text that holds two exports of different policies is refused: its lines
    would all land in one of them.
    """
    named: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.startswith(TEXT_HEADER_PREFIX):
            continue
        quoted = line[len(TEXT_HEADER_PREFIX) :]
        policy, closed, _ = quoted[1:].partition('"')
        if not quoted.startswith('"') or not closed or not is_policy_name(policy):
            raise ImportProblem(
                f"line {number}: this credcors export header names no policy that can be read: "
                f"{safe(line.removesuffix(chr(13)), 200)}. Correct it, or remove the line and choose the policy."
            )
        named.setdefault(policy, number)
    if len(named) > 1:
        found = ", ".join(f"{safe(policy, 64)} (line {number})" for policy, number in named.items())
        raise ImportProblem(
            f"the text holds exports of several policies, {found}; import each policy's export on its own."
        )
    return next(iter(named), None)


def resolve_policy(text: str, fmt: str, chosen: str | None, *, choice: str) -> str | None:
    """The policy of an import's entries that name none: ``chosen``, else the one a text export's header names.

    A header naming another policy than ``chosen`` is refused: an export's
    origins go back where they came from.  ``choice`` says how the caller
    names the choice (``"--policy"``).  ``None``: neither says; new rows go
    to the default policy and existing rows keep theirs.
    """
    header = header_policy(text) if fmt == "text" else None
    if header is not None and chosen is not None and header != chosen:
        raise PolicyConflict(
            f"the text's header says its origins belong to the policy {safe(header, 64)}, but {choice} is "
            f"{safe(chosen, 64)}; choose {safe(header, 64)}, or leave {choice} out to follow the header."
        )
    return chosen or header


def _json_entries(text: str, name: str) -> list[Entry]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ImportProblem(f"{name} is not valid JSON{where}.") from None
    if not isinstance(data, list):
        raise ImportProblem(
            f'{name}: expected a JSON list of origins or of {{"origin": ..., "enabled": ..., "note": ..., '
            '"policy": ..., "trust_for_csrf": ..., "expires_at": ..., "hosts": [...]}} objects.'
        )
    entries = []
    for number, item in enumerate(data, start=1):
        where = f"entry {number}"
        if isinstance(item, str):
            entries.append(Entry(where, item))
        elif (
            not isinstance(item, dict)
            or not isinstance(item.get("origin"), str)
            or not isinstance(item.get("enabled", True), bool)
            or not isinstance(item.get("note", ""), str)
            or not isinstance(item.get("policy", ""), str)
            or not isinstance(item.get("trust_for_csrf", False), bool)
            or not isinstance(item.get("expires_at", ""), (str, type(None)))
            or not isinstance(item.get("hosts", []), list)
            or set(item) - _JSON_KEYS
        ):
            entries.append(Entry(where, BAD_ENTRY))
        else:
            # null clears an expiry, like "never"; a missing key leaves it as it is.
            expires = item.get("expires_at")
            if "expires_at" in item and expires is None:
                expires = NEVER
            entries.append(
                Entry(
                    where,
                    item["origin"],
                    enabled=item.get("enabled"),
                    note=item.get("note"),
                    policy=item.get("policy"),
                    trust_for_csrf=item.get("trust_for_csrf"),
                    expires=expires,
                    # Each host is checked, and its type reported, by the import's one validator.
                    hosts=None if "hosts" not in item else tuple(item["hosts"]),
                )
            )
    return entries
