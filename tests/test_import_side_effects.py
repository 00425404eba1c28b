"""Importing credcors has no side effects: no thread, no fork hook, no singleton (issue #22 item 7).

Each check runs in a fresh interpreter, because the test process has long
since imported credcors and made its singletons.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from credcors import log, routing
from credcors.lazy import Lazy
from credcors.refused import flush
from credcors.store import current

ROOT = Path(__file__).resolve().parent.parent

#: Imports every module of the package after a minimal ``django.setup()``,
#: then prints what the imports left behind, as JSON.
IMPORT_EVERYTHING = textwrap.dedent(
    """
    import json, os, pkgutil, threading, importlib, sys

    hooks = []
    register_at_fork = os.register_at_fork

    def counting(**callbacks):
        # A Lazy's hook is its bound method: name it by what it makes.
        for c in callbacks.values():
            owner = getattr(c, "__self__", None)
            hooks.append(f"credcors: {owner.name}" if hasattr(owner, "name") else getattr(c, "__module__", None) or "?")
        register_at_fork(**callbacks)

    os.register_at_fork = counting

    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "credcors",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF="tests.urls",
    )
    threads = threading.active_count()
    django.setup()

    import credcors

    modules = [credcors]
    for info in pkgutil.walk_packages(credcors.__path__, "credcors."):
        modules.append(importlib.import_module(info.name))

    from credcors.lazy import Lazy
    from credcors.log import RateLimiter
    from credcors.refused.flush import RefusedLog
    from credcors.routing import PathPolicies
    from credcors.store.current import Store

    kinds = (Store, RefusedLog, PathPolicies, RateLimiter)

    def is_singleton(value):
        # A Lazy made, or an instance held by a module directly (credcors.log
        # kept its two limiters in one NamedTuple).
        if isinstance(value, Lazy):
            return value.current is not None
        return isinstance(value, kinds) or (isinstance(value, tuple) and any(isinstance(v, kinds) for v in value))

    made = sorted(
        f"{module.__name__}.{name}"
        for module in modules
        for name, value in vars(module).items()
        if is_singleton(value)
    )
    report = {
        "modules": len(modules),
        "new_threads": threading.active_count() - threads,
        "credcors_hooks": [m for m in hooks if m.startswith("credcors")],
        "singletons": made,
    }
    AFTER_IMPORT
    print(json.dumps(report))
    """
)

#: Then makes every singleton, drops and makes them again (as the test fixtures do).
MAKE_TWICE = textwrap.dedent(
    """
    from credcors.log import get_rate_limits, reset_rate_limits
    from credcors.refused.flush import get_refused_log, reset_refused_log
    from credcors.routing import get_path_policies, reset_path_policies
    from credcors.store.current import get_store, reset_store

    hooks.clear()
    pairs = [
        (get_store, reset_store),
        (get_refused_log, reset_refused_log),
        (get_path_policies, reset_path_policies),
        (get_rate_limits, reset_rate_limits),
    ]
    first = [get() for get, _ in pairs]
    report["same_on_second_use"] = all(get() is made for (get, _), made in zip(pairs, first))
    for _, reset in pairs:
        reset()
    report["fresh_after_reset"] = all(get() is not made for (get, _), made in zip(pairs, first))
    report["hooks_when_made"] = [m for m in hooks if m.startswith("credcors")]
    report["threads_when_made"] = threading.active_count() - threads
    """
)


def _run(after_import: str = "") -> dict[str, Any]:
    script = IMPORT_EVERYTHING.replace("AFTER_IMPORT", after_import)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_importing_every_module_starts_no_thread_registers_no_fork_hook_and_makes_no_singleton() -> None:
    report = _run()

    assert report["modules"] > 50  # The walk found the whole package, migrations and admin included.
    assert report["new_threads"] == 0
    assert report["credcors_hooks"] == []
    assert report["singletons"] == []


def test_singletons_made_on_first_use_register_one_fork_hook_each_however_often_reset() -> None:
    report = _run(MAKE_TWICE)

    assert report["same_on_second_use"] is True
    assert report["fresh_after_reset"] is True
    # The store and the refused log hold locks and threads a child must not inherit.
    assert report["hooks_when_made"] == ["credcors: store", "credcors: refused log"]
    assert report["threads_when_made"] == 0  # A thread starts with the first background refresh or flush only.


#: Then makes the store and the refused log, counts one refusal, forks, and
#: reports what the child sees.
FORK = textwrap.dedent(
    """
    from credcors.refused.flush import get_refused_log
    from credcors.store.current import get_store

    store, log = get_store(), get_refused_log()
    log.recorder.record("https://parent.example", "/api", "default", 10)
    store._lock.acquire()  # As if a refresh in another thread held it when the process forked.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        child = {
            "same_store": get_store() is store,
            "store_lock_free": not get_store()._lock.locked(),
            "pending_refusals": len(get_refused_log().recorder),
        }
        os.write(write, json.dumps(child).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    report["child"] = json.loads(os.read(read, 4096))
    report["parent_pending_refusals"] = len(log.recorder)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_keeps_the_store_with_fresh_locks_and_drops_the_parents_refusals() -> None:
    report = _run(FORK)

    assert report["child"] == {"same_store": True, "store_lock_free": True, "pending_refusals": 0}
    assert report["parent_pending_refusals"] == 1


#: Each process-wide object, and its accessor.
ACCESSORS = [
    pytest.param(current.STORE, current.get_store, current.Store, id="store"),
    pytest.param(flush.REFUSED_LOG, flush.get_refused_log, flush.RefusedLog, id="refused_log"),
    pytest.param(routing.PATH_POLICIES, routing.get_path_policies, routing.PathPolicies, id="path_policies"),
    pytest.param(log.RATE_LIMITS, log.get_rate_limits, log.RateLimits, id="rate_limits"),
]


@pytest.mark.parametrize(("lazy", "get", "kind"), ACCESSORS)
def test_each_accessor_reads_its_lazy_object(lazy: Lazy[Any], get: Callable[[], object], kind: type) -> None:
    made = get()

    assert isinstance(made, kind)
    assert lazy.current is made


def test_two_first_uses_at_once_make_one_instance() -> None:
    # The other thread's first use wins the lock and makes the instance while
    # this one waits on it: a lock that makes it on entry plays that thread.
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    lazy: Lazy[object] = Lazy("thing", make)
    real = lazy._lock
    theirs: list[object] = []

    class MadeMeanwhile:
        def __enter__(self) -> None:
            lazy._lock = real
            theirs.append(lazy.get())
            real.acquire()

        def __exit__(self, *exc: object) -> None:
            real.release()

    lazy._lock = MadeMeanwhile()  # type: ignore[assignment]

    assert lazy.get() is theirs[0]
    assert len(made) == 1


def test_reset_drops_the_instance_and_the_next_use_makes_a_fresh_one() -> None:
    lazy: Lazy[object] = Lazy("thing", object)
    first = lazy.get()

    assert lazy.get() is first
    lazy.reset()
    assert lazy.current is None
    assert repr(lazy) == "<Lazy thing: not made>"
    assert lazy.get() is not first
    assert repr(lazy) == "<Lazy thing: made>"
