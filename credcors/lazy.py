"""A process-wide instance made on first use: the one shape of credcors' four singletons.

The store, the refused-origins log, the path-policy cache and the log's rate
limiters are each one :class:`Lazy`.  Importing credcors makes none of them
(issue #22: no side effects at import); the first :meth:`Lazy.get` makes
the instance under a lock, so two threads' first uses make one; after that,
:meth:`~Lazy.get` is one attribute read and a ``None`` check, cheap enough
for the request path.  An instance that holds locks or threads a forked
child must not inherit says how to mend itself (``after_fork``), and gets
one fork hook per process, however often tests :meth:`~Lazy.reset` it.
Pure standard library.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """One process-wide instance of what ``make`` returns, made on first use."""

    __slots__ = ("_after_fork", "_hooked", "_instance", "_lock", "_make", "name")

    def __init__(self, name: str, make: Callable[[], T], *, after_fork: Callable[[T], None] | None = None) -> None:
        #: What it is, for reprs and the fork-hook test.
        self.name = name
        self._make = make
        self._after_fork = after_fork
        self._instance: T | None = None
        self._lock = threading.Lock()
        self._hooked = False

    def __repr__(self) -> str:
        return f"<Lazy {self.name}: {'made' if self._instance is not None else 'not made'}>"

    def get(self) -> T:
        """The instance, made now if this is the first use (or the first since :meth:`reset`)."""
        instance = self._instance
        if instance is None:
            instance = self._made()
        return instance

    @property
    def current(self) -> T | None:
        """The instance if one was made, without making it."""
        return self._instance

    def reset(self) -> None:
        """Drop the instance (for tests): the next :meth:`get` makes a fresh one."""
        with self._lock:
            self._instance = None

    def _made(self) -> T:
        # Double-checked: the thread that waited on the lock finds the
        # instance the first one made.
        with self._lock:
            instance = self._instance
            if instance is None:
                instance = self._instance = self._make()
                if self._after_fork is not None and not self._hooked and hasattr(os, "register_at_fork"):
                    # Windows has no fork.  The hook forwards to whichever
                    # instance is current when the fork happens.
                    os.register_at_fork(after_in_child=self._forked)
                    self._hooked = True
            return instance

    def _forked(self) -> None:  # pragma: no cover - runs in a forked child (tests/test_import_side_effects.py).
        # The parent's lock may have been held by a thread the child does not have.
        self._lock = threading.Lock()
        instance = self._instance
        if instance is not None and self._after_fork is not None:
            self._after_fork(instance)
