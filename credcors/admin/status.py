"""The change list's status panel: what this process serves, whether the shared cache answers, the checks."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from django.core import checks
from django.core.cache import caches
from django.db import router

from credcors.admin.effective import settings_total
from credcors.core.catalogue import CHECKS, level_of
from credcors.core.compile import served_rows
from credcors.core.config import Config
from credcors.store.current import get_store
from credcors.store.loader import VERSION_KEY

__all__ = ["CheckLine", "Status", "anchor", "read_status"]


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One credcors system-check message, as the panel shows it."""

    level: str  # error, warning or info
    id: str
    msg: str
    hint: str

    @property
    def anchor(self) -> str:
        return anchor(self.id)


@dataclass(frozen=True, slots=True)
class Status:
    """What the panel says; every text in it is escaped by the template."""

    pid: int
    rows: int  # served, in every policy
    ignored: int  # rows read but left out as invalid
    settings_rules: int
    takes_rows: bool  # whether any policy takes rows
    idle_policies: tuple[str, ...]  # the configured policies whose rows allow nothing
    read_at: datetime.datetime | None
    cache_alias: str | None
    cache_error: str | None  # None: answered (or no cache); else the error's type
    checks: tuple[CheckLine, ...]


def anchor(check_id: str) -> str:
    """The fragment naming a check id on the checks page: ``credcors-w006``."""
    return check_id.replace(".", "-").lower()


def read_status(config: Config) -> Status:
    """This process's allow-list, the shared cache and the credcors checks, read now."""
    store = get_store()
    snapshot = store.get()
    idle = tuple(name for name in config.policy_names if not config.takes_rows(name))
    read_at = (
        None if store.read_at is None else datetime.datetime.fromtimestamp(store.read_at, tz=datetime.timezone.utc)
    )
    cache_error = None
    if config.cache_alias is not None:
        try:
            caches[config.cache_alias].get(VERSION_KEY)
        except Exception as exc:  # Any backend's error: the panel says which.
            cache_error = type(exc).__name__
    return Status(
        pid=os.getpid(),
        rows=served_rows(snapshot),
        ignored=store.invalid_rows,
        settings_rules=settings_total(config),
        takes_rows=len(idle) < len(config.policy_names),
        idle_policies=idle,
        read_at=read_at,
        cache_alias=config.cache_alias,
        cache_error=cache_error,
        checks=tuple(run_credcors_checks()),
    )


def run_credcors_checks() -> list[CheckLine]:
    """The messages of the checks tagged ``credcors`` (database checks on AllowedOrigin's database)."""
    from credcors.models import AllowedOrigin

    alias = router.db_for_read(AllowedOrigin)
    found = checks.run_checks(tags=["credcors"], databases=[alias])
    lines = []
    for message in found:
        check_id = message.id or ""
        if check_id not in CHECKS:
            continue  # Another app's check sharing the tag.
        lines.append(CheckLine(level_of(check_id), check_id, str(message.msg), str(message.hint or "")))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(lines, key=lambda line: (order[line.level], line.id))
