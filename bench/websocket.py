"""A WebSocket handshake's cost: credcors' ``OriginValidator`` against Channels' (issue #23).

``python bench/websocket.py`` (with channels installed): for 10 and 100,000
allowed origins (settings only, no database), each validator in a process of
its own, the median time of one handshake through the validator to a
trivial application that accepts, for an allowed origin (the list's last)
and a refused one.  In-process ASGI calls: no server, no network.  A round
is at most ``HANDSHAKES`` handshakes and about ``ROUND_SECONDS`` long, so a
validator that scans its list (Channels' at 100,000 origins, about a second
a handshake) is measured on fewer handshakes instead of running for hours.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from typing import Any

HANDSHAKES = 2000
ROUNDS = 7
ROUND_SECONDS = 2.0


def _origins(count: int) -> list[str]:
    return [f"https://app{number}.example.com" for number in range(count)]


async def _accept(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.accept"})


async def _time(validator: Any, origin: str) -> float:
    scope = {
        "type": "websocket",
        "path": "/ws/",
        "headers": [(b"host", b"api.example.com"), (b"origin", origin.encode())],
    }

    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        # connect, then disconnect: Channels' denier is a consumer that reads until the socket goes.
        return messages.pop() if messages else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Any) -> None:
        pass

    async def round_of(handshakes: int) -> float:
        start = time.perf_counter()
        for _ in range(handshakes):
            messages.append({"type": "websocket.connect"})
            await validator(dict(scope), receive, send)
        return (time.perf_counter() - start) / handshakes

    await round_of(1)  # Warm-up: the process's first handshake loads the allow-list.
    handshakes = max(1, min(HANDSHAKES, int(ROUND_SECONDS / await round_of(1))))
    return statistics.median([await round_of(handshakes) for _ in range(ROUNDS)])


def _measure(which: str, count: int, results: Any) -> None:
    import django
    from django.conf import settings

    origins = _origins(count)
    settings.configure(
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["api.example.com"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "credcors"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CREDCORS={"ALLOWED_ORIGINS": origins, "USE_DATABASE": False},
    )
    django.setup()
    if which == "credcors":
        from credcors.websocket import OriginValidator

        validator: Any = OriginValidator(_accept)
    else:
        from channels.security.websocket import OriginValidator as ChannelsValidator

        validator = ChannelsValidator(_accept, origins)
    loop = asyncio.new_event_loop()
    allowed = loop.run_until_complete(_time(validator, origins[-1]))
    refused = loop.run_until_complete(_time(validator, "https://evil.example.net"))
    results.put((which, count, allowed, refused))


def main() -> int:
    context = multiprocessing.get_context("spawn")
    print(f"{'validator':<10} {'origins':>8} {'allowed µs':>11} {'refused µs':>11}")
    for count in (10, 100_000):
        for which in ("credcors", "channels"):
            results = context.Queue()
            process = context.Process(target=_measure, args=(which, count, results))
            process.start()
            name, size, allowed, refused = results.get(timeout=600)
            process.join()
            print(f"{name:<10} {size:>8,} {allowed * 1e6:>11.2f} {refused * 1e6:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
