"""A bounded, steady stream of credentialed CORS requests and preflights.

Run as ``python -m tests.multiprocess.loadgen CONFIG_JSON``.  For each target
it runs a few threads that send, at a fixed pace, an actual request
(``GET`` with ``Origin`` and a cookie) or a preflight (``OPTIONS`` with
``Access-Control-Request-Method: PUT`` and ``-Headers: content-type``) for each
origin in turn, over a new loopback connection each time.  It stops by itself
after ``duration`` seconds or ``max_requests`` requests, whichever comes first,
and writes one JSON line per response to ``out``::

    {"target": "gunicorn-a", "pid": 1234, "kind": "preflight", "origin": ...,
     "t0": <monotonic before connecting>, "t1": <after reading the body>,
     "status": 204, "acao": "https://...", "acac": "true", "error": null}

A slot that comes due while the previous request is still running is
skipped, never sent in a burst, so a slow server is not flooded.
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
from typing import Any

PID_HEADER = "x-server-pid"


def send(port: int, kind: str, origin: str, timeout: float) -> dict[str, Any]:
    headers = {"Origin": origin, "Cookie": "sessionid=credcors-load", "Connection": "close"}
    method = "GET"
    if kind == "preflight":
        method = "OPTIONS"
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
            "Connection": "close",
        }
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, "/api/ping", headers=headers)
        response = conn.getresponse()
        response.read()
        result = {
            "status": response.status,
            "pid": int(response.getheader(PID_HEADER) or 0),
            "acao": response.getheader("Access-Control-Allow-Origin"),
            "acac": response.getheader("Access-Control-Allow-Credentials"),
            "n_acao": len(response.headers.get_all("Access-Control-Allow-Origin") or []),
            "error": None,
        }
    except OSError as exc:
        result = {"status": 0, "pid": 0, "acao": None, "acac": None, "n_acao": 0, "error": repr(exc)}
    finally:
        conn.close()
    return {"kind": kind, "origin": origin, "t0": t0, "t1": time.monotonic(), **result}


def run(config: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = config["targets"]
    origins: list[str] = config["origins"]
    threads_per_target: int = config.get("threads_per_target", 2)
    interval = threads_per_target / config["rate"]  # Seconds between one thread's requests.
    started = time.monotonic()
    deadline = started + config["duration"]
    budget = itertools.count()
    max_requests: int = config["max_requests"]
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker(target: dict[str, Any], offset: int) -> None:
        # Thread k of a target starts at origin k, kind k, so that together
        # the threads cover every (origin, kind) pair evenly.
        cycle = itertools.islice(itertools.cycle(itertools.product(("actual", "preflight"), origins)), offset, None)
        slot = started + offset * interval / threads_per_target
        for kind, origin in cycle:
            now = time.monotonic()
            if now < slot:
                time.sleep(slot - now)  # Pacing the stream, not waiting for any state.
            if time.monotonic() >= deadline or next(budget) >= max_requests:
                return
            record = send(target["port"], kind, origin, config.get("timeout", 10.0))
            record["target"] = target["name"]
            with lock:
                results.append(record)
            slot += interval
            now = time.monotonic()
            if slot < now:
                slot += ((now - slot) // interval + 1) * interval  # Skip missed slots.

    threads = [
        threading.Thread(target=worker, args=(target, k), daemon=True)
        for target in targets
        for k in range(threads_per_target)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=config["duration"] + config.get("timeout", 10.0) + 5)
    with lock:
        return sorted(results, key=lambda r: r["t0"])


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    print(json.dumps({"ready": True, "t": time.monotonic()}), flush=True)
    results = run(config)
    with open(config["out"], "w") as out:
        for record in results:
            out.write(json.dumps(record) + "\n")
    print(json.dumps({"done": True, "requests": len(results)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
