"""Wait for the live server's request threads to end before a test does.

A page keeps several keep-alive connections to the live server (an admin
page's CSS and scripts, a front end's fetch() calls).  Each is served by a
thread that closes its database connection when the browser hangs up; one
that outlives the test can do so after the live server has stopped sharing
the in-memory SQLite connection, and fail the next test's teardown.  A test
module whose tests open such pages calls this after its context has closed.
"""

from __future__ import annotations

import threading

from tests.browser.conftest import poll

#: How long a browser may take to hang up once its context is closed.
DRAIN_SECONDS = 10.0


def live_request_threads() -> int:
    """How many of the live server's request threads are still running."""
    return sum(1 for thread in threading.enumerate() if "process_request_thread" in thread.name)


def assert_request_threads_drained() -> None:
    left = poll(live_request_threads, lambda alive: alive == 0, seconds=DRAIN_SECONDS)
    assert left == 0, f"{left} live-server request threads still running {DRAIN_SECONDS} s after the test"
