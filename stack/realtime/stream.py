"""`stack stream`: produce and consume at once, for a bounded demo of the realtime path."""

from __future__ import annotations

import threading
from collections.abc import Callable

from stack.realtime.consumer import consume
from stack.realtime.producer import produce
from stack.realtime.writer import WriteCounts
from stack.settings import Settings


def stream(
    settings: Settings,
    *,
    count: int = 10_000,
    rate: float = 0,
    seed: int | None = None,
    bad_ratio: float = 0.0,
    idle_timeout: float = 3.0,
    windows: bool = True,
    on_produced: Callable[[int], None] | None = None,
    on_committed: Callable[[WriteCounts, WriteCounts], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> dict:
    """Produce `count` events (in a thread) while consuming them; return both summaries.

    The consumer stops once the producer is done and everything is committed and idle for
    `idle_timeout` seconds; a SIGINT/SIGTERM stops both.
    """
    produced: dict = {}
    failure: list[BaseException] = []
    done = threading.Event()
    stopping = threading.Event()

    def producer() -> None:
        try:
            produced.update(
                produce(
                    settings,
                    count=count,
                    rate=rate,
                    seed=seed,
                    bad_ratio=bad_ratio,
                    on_progress=on_produced,
                    should_stop=stopping.is_set,
                )
            )
        except BaseException as error:  # reported in the main thread
            failure.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=producer, name="stream-producer", daemon=True)
    thread.start()
    try:
        consumed = consume(
            settings,
            idle_timeout=idle_timeout,
            windows=windows,
            ready_to_stop=done.is_set,
            on_committed=on_committed,
            on_notice=on_notice,
        )
    finally:
        stopping.set()
        thread.join()
    if failure:
        raise failure[0]
    return {"produced": produced, "consumed": consumed}
