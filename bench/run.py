"""Benchmark credcors against django-cors-headers: ``python3 dev.py bench [--quick]``.

Every configuration runs in its own process (see ``bench.worker``).  The
coordinator times one batch per configuration in turn, round-robin, for every
level and request kind, and repeats that many times, so machine drift (other
processes, frequency changes) hits all configurations alike.  Each batch runs
with the garbage collector off, after a short warm-up; the tables report the
median and min-max of the per-request time over the repetitions, and the
overhead over the no-middleware floor as the median of per-repetition paired
differences.  A full-stack batch also times the same stack without the CORS
middleware in the same process, the two interleaved in chunks (see
``Worker.time_full_pair``): the full-stack target is their ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from typing import Any

from bench import report, workload

SIZES = (1, 10, 1_000, 100_000)
QUICK_SIZES = (1, 10)
#: Full-stack batches are this many times longer than the others.  Their
#: target is a ratio of two ~80 µs times that must stay within 10%, and each
#: configuration's verdict takes the worst of two dozen cells: a few requests
#: per batch would leave that worst cell mostly noise.
FULL_BATCH_FACTOR = 4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (smoke test, CI)")
    parser.add_argument("--sizes", type=lambda text: tuple(int(x) for x in text.split(",")), help="e.g. 10,1000")
    parser.add_argument("--reps", type=int, help="repetitions of the round-robin (default 21, quick 3)")
    parser.add_argument(
        "--batch-ms",
        type=float,
        help="target duration of one timed batch (default 4, quick 0.5); full-stack batches are "
        f"{FULL_BATCH_FACTOR}x longer, and each also times the stack without CORS middleware",
    )
    parser.add_argument(
        "--slow-ms",
        type=float,
        default=40.0,
        help="a request slower than this is timed once instead of every repetition (default 40)",
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the summary tables as Markdown")
    parser.add_argument(
        "--freshness",
        action="store_true",
        help="instead: cold load, memory, idle polling and reloads under load (see bench/freshness.py --help)",
    )
    parser.add_argument(
        "--hot-path",
        action="store_true",
        help="only: a row origin against a settings origin at 10 and 1,000,000 rows, and the cold load "
        "(see bench/hot_path.py --help)",
    )
    args = parser.parse_args(argv)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    args.reps = args.reps or (3 if args.quick else 21)
    args.batch_ms = args.batch_ms or (0.5 if args.quick else 4.0)
    return args


class Pool:
    """The worker processes, one per (configuration, size); the floor has size 0."""

    def __init__(self, sizes: tuple[int, ...], directory: str) -> None:
        context = multiprocessing.get_context("spawn")
        from bench.worker import serve

        self.keys = [(workload.FLOOR, 0)] + [(c, s) for s in sizes for c in workload.CONFIGS if c != workload.FLOOR]
        self.conns: dict[tuple[str, int], Any] = {}
        self.processes = []
        for config, size in self.keys:
            parent, child = context.Pipe()
            db_path = os.path.join(directory, f"{config}-{size}.sqlite3")
            process = context.Process(target=serve, args=(child, config, size, db_path), daemon=True)
            process.start()
            self.conns[(config, size)] = parent
            self.processes.append(process)
        for key in self.keys:
            self._answer(key)

    def _answer(self, key: tuple[str, int]) -> Any:
        status, value = self.conns[key].recv()
        if status != "ok":
            raise SystemExit(f"bench: worker {key[0]} at {key[1]} origins failed: {value}")
        return value

    def ask(self, key: tuple[str, int], *command: Any) -> Any:
        self.conns[key].send(command)
        return self._answer(key)

    def close(self) -> None:
        for key in self.keys:
            self.ask(key, "stop")
        for process in self.processes:
            process.join(timeout=10)


def check_answers(pool: Pool) -> list[str]:
    """Refuse to time anything unless every configuration answers correctly."""
    problems = []
    for config, size in pool.keys:
        answers = pool.ask((config, size), "check")
        if config == workload.FLOOR:
            continue
        origin = workload.allowed_origin(config, size)
        for level in workload.LEVELS:
            allowed, refused = answers[f"{level}/allowed"], answers[f"{level}/refused"]
            preflight = answers[f"{level}/preflight"]
            if allowed[1] != origin or preflight[1] != origin or refused[1] is not None:
                problems.append(f"{config} at {size} origins ({level}): {answers}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--freshness" in argv:
        from bench import freshness

        return freshness.main(argv)
    from bench import hot_path

    if "--hot-path" in argv:
        return hot_path.main([arg for arg in argv if arg != "--hot-path"])
    args = parse_args(argv)
    started = time.monotonic()
    print(report.machine_line(), flush=True)
    print(f"sizes {list(args.sizes)}, {args.reps} repetitions, ~{args.batch_ms} ms per batch", flush=True)
    with tempfile.TemporaryDirectory(prefix="credcors-bench-") as directory:
        pool = Pool(args.sizes, directory)
        try:
            problems = check_answers(pool)
            if problems:
                print("bench: a configuration does not answer as expected:\n" + "\n".join(problems), file=sys.stderr)
                return 1
            results = measure(pool, args)
        finally:
            pool.close()
    hot = hot_path.run(hot_path.QUICK_SIZES if args.quick else hot_path.SIZES, args.quick)
    results["elapsed_s"] = time.monotonic() - started
    text, markdown = report.render(results, args)
    print(text)
    heading = "an allowed database-row origin against a settings origin; the cold load against a raw fetch"
    print(f"\n== {heading}\n{hot_path.render(hot)}\n{hot_path.targets(hot)}")
    markdown += f"\n\n### {heading[0].upper()}{heading[1:]}\n\n{hot_path.render(hot)}\n"
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(markdown)
    return 0


def measure(pool: Pool, args: argparse.Namespace) -> dict[str, Any]:
    cells = [(level, kind) for level in workload.LEVELS for kind in workload.KINDS]
    batches: dict[tuple[Any, ...], int] = {}
    samples: dict[tuple[Any, ...], list[float]] = {}
    single: dict[tuple[Any, ...], float] = {}
    target_ns, slow_ns = int(args.batch_ms * 1e6), int(args.slow_ms * 1e6)
    calibration_started = time.monotonic()
    for key in pool.keys:
        for level, kind in cells:
            batch_ns = target_ns * (FULL_BATCH_FACTOR if level == "full" else 1)
            n, per_request = pool.ask(key, "calibrate", level, kind, batch_ns, slow_ns)
            # The cell is named before it is used as a key: mypy reads
            # `d[(*key, ...)]` as 3.11's unparenthesized `d[*key, ...]` (the
            # parentheses leave no trace in the AST) and rejects it for 3.10.
            cell = (*key, level, kind)
            if n:
                batches[cell] = n
                samples[cell] = []
                if level == "full":  # Timed in pairs with the same stack without CORS middleware.
                    floor_cell = (*key, workload.IN_PROCESS_FLOOR, kind)
                    samples[floor_cell] = []
            else:
                single[cell] = per_request / 1e3
    print(f"calibrated in {time.monotonic() - calibration_started:.0f} s", flush=True)
    for rep in range(args.reps):
        # Round-robin, starting one configuration later each repetition, so
        # that no configuration always runs right after the same neighbour.
        order = pool.keys[rep % len(pool.keys) :] + pool.keys[: rep % len(pool.keys)]
        for level, kind in cells:
            for key in order:
                cell = (*key, level, kind)
                if cell not in batches:
                    continue
                n = batches[cell]
                if level == "full":
                    floor_cell = (*key, workload.IN_PROCESS_FLOOR, kind)
                    elapsed, floor_elapsed = pool.ask(key, "time_full_pair", kind, n)
                    samples[floor_cell].append(floor_elapsed / n / 1e3)
                else:
                    elapsed = pool.ask(key, "time", level, kind, n)
                samples[cell].append(elapsed / n / 1e3)
        print(f"  repetition {rep + 1}/{args.reps} done", flush=True)
    queries = {key: pool.ask(key, "queries", 5 if args.quick else 20) for key in pool.keys}
    reloads = {key: pool.ask(key, "reload") for key in pool.keys if key[0].startswith("cc-")}
    return {"samples": samples, "single": single, "queries": queries, "reloads": reloads, "keys": pool.keys}


if __name__ == "__main__":
    sys.exit(main())
