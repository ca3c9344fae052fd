"""Benchmarks: each compares against a baseline measured in the same run and prints ratios."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from stack.services.ephemeral import ephemeral_services
from stack.settings import Settings, load_settings


@contextlib.contextmanager
def bench_services(*services: str) -> Iterator[Settings]:
    """Throw-away services for one benchmark (default all; e.g. only "postgres", so an idle
    broker takes no CPU), or the running ones with STACK_BENCH_USE_RUNNING=1."""
    if os.environ.get("STACK_BENCH_USE_RUNNING") == "1":
        yield load_settings()
        return
    with ephemeral_services(prefix="stack-bench-", services=list(services) or None) as (
        settings,
        _backend,
    ):
        yield settings


def print_results(results: list[tuple[str, ...]], note: str) -> None:
    """The machine's load, `note`, then one aligned row per measurement."""
    load1, load5, _ = os.getloadavg()
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {load1:.1f} (1 min) "
        f"{load5:.1f} (5 min) at the end; {note}\n"
    )
    widths = [max(len(row[i]) for row in results) for i in range(len(results[0]))]
    for row in results:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
