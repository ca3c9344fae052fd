"""`stack stream`: produce and consume at once, for a bounded demo of the realtime path."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from stack.progress import OnEvent
from stack.realtime.consumer import ConsumeSummary, consume
from stack.realtime.producer import ProduceSummary, produce
from stack.settings import Settings
from stack.summary import Summary


@dataclass
class StreamSummary(Summary):
    produced: ProduceSummary
    consumed: ConsumeSummary

    derived = ("exit_code",)

    @property
    def exit_code(self) -> int:
        return self.consumed.exit_code


def stream(
    settings: Settings,
    *,
    count: int = 10_000,
    rate: float = 0,
    seed: int | None = None,
    bad_ratio: float = 0.0,
    idle_timeout: float = 3.0,
    windows: bool = True,
    on_event: OnEvent | None = None,
) -> StreamSummary:
    """Produce `count` events (in a thread) while consuming them; return both summaries.

    The consumer stops once the producer is done and everything is committed and idle for
    `idle_timeout` seconds; a SIGINT/SIGTERM stops both. Events of both jobs go to `on_event`
    (from two threads).
    """
    produced: list[ProduceSummary] = []
    failure: list[BaseException] = []
    done = threading.Event()
    stopping = threading.Event()

    def producer() -> None:
        try:
            produced.append(
                produce(
                    settings,
                    count=count,
                    rate=rate,
                    seed=seed,
                    bad_ratio=bad_ratio,
                    on_event=on_event,
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
            on_event=on_event,
        )
    finally:
        stopping.set()
        thread.join()
    if failure:
        raise failure[0]
    return StreamSummary(produced=produced[0], consumed=consumed)
