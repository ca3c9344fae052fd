"""`stack stream`: produce and consume at once, for a bounded demo of the realtime path.

The consumers start while the producer does (their group join overlaps its start), and the
producer stays at most `lead` events ahead of the slowest of them (the window totals, on a
small machine), so when the last event is written little is left to read: the stream ends
about as soon as it is consumed, not after a backlog. Nothing waits for quiet: the producer
says when it is done, and the consumers stop once they have caught up with it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from stack.progress import Event, OnEvent
from stack.realtime.consumer import WINDOW_TOTALS, ConsumeSummary, consume
from stack.realtime.producer import ProduceSummary, produce
from stack.settings import Settings
from stack.summary import Summary

log = logging.getLogger(__name__)

# How far (in events) the producer may run ahead of the slowest consumer: a few tenths of a
# second of the window totals' pace on a 2-core laptop (the sink's count moves only at its
# commits, once a second: the lead covers a second of the producer's pace behind it).
LEAD = 5_000
# Seconds without a consumer's count moving, after which the producer goes on unheld: longer
# than a window process takes to start and join on a loaded machine.
STALLED = 30.0


@dataclass
class StreamSummary(Summary):
    produced: ProduceSummary
    consumed: ConsumeSummary
    # Seconds from the producer's last event delivered to the consumers' end (window totals
    # included): what the stream waited for once everything was written.
    after_last_event: float = 0.0

    derived = ("exit_code",)

    @property
    def exit_code(self) -> int:
        return self.consumed.exit_code


class _Lead:
    """The producer's `hold`: blocks while it is more than `lead` events ahead of a consumer
    (their counts come from the consume's progress events)."""

    def __init__(self, lead: int | None, windows: bool, topic: str) -> None:
        self.lead = lead
        self.counts = {topic: 0, **({WINDOW_TOTALS: 0} if windows else {})}
        self.changed = threading.Condition()
        self.released = False

    def observe(self, event: Event) -> None:
        if event.job == "consume" and event.item in self.counts and event.done is not None:
            with self.changed:
                self.counts[event.item] = max(self.counts[event.item], event.done)
                self.changed.notify_all()

    def release(self) -> None:
        """The consumers are gone (or going): hold nobody any more."""
        with self.changed:
            self.released = True
            self.changed.notify_all()

    def hold(self, sent: int) -> None:
        if self.lead is None:
            return
        with self.changed:
            while not self.released and sent - min(self.counts.values()) > self.lead:
                # Counts that stop moving (a consumer that counts less than it reads, in a
                # way not foreseen) must not hold the producer for ever: unheld from then on.
                if not self.changed.wait(timeout=STALLED):
                    log.warning(
                        "the consumers' counts did not move for %.0f s: the producer no longer "
                        "waits for them",
                        STALLED,
                    )
                    self.released = True


def stream(
    settings: Settings,
    *,
    count: int = 10_000,
    rate: float = 0,
    seed: int | None = None,
    bad_ratio: float = 0.0,
    start: datetime | None = None,
    lead: int | None = LEAD,
    idle_timeout: float = 0.0,
    windows: bool = True,
    on_event: OnEvent | None = None,
) -> StreamSummary:
    """Produce `count` events (in a thread) while consuming them; return both summaries.

    The producer keeps at most `lead` events ahead of the slowest consumer (None: no limit);
    `start` is the event time of the first event (see `produce`). The consumers stop once the
    producer is done and they have caught up with it, then idle for `idle_timeout` seconds
    (more only when other producers write to the topic too); a SIGINT/SIGTERM stops both.
    Events of both jobs go to `on_event` (from several threads).
    """
    produced: list[ProduceSummary] = []
    failure: list[BaseException] = []
    done = threading.Event()
    stopping = threading.Event()
    pace = _Lead(lead, windows, settings.transactions_topic)
    last_event_at: list[float] = []

    def observe(event: Event) -> None:
        if on_event is not None:  # first: whoever listens sees a count before what it releases
            on_event(event)
        pace.observe(event)

    def producer() -> None:
        try:
            produced.append(
                produce(
                    settings,
                    count=count,
                    rate=rate,
                    seed=seed,
                    bad_ratio=bad_ratio,
                    start=start,
                    on_event=on_event,
                    should_stop=stopping.is_set,
                    hold=pace.hold,
                )
            )
        except BaseException as error:  # reported in the main thread
            failure.append(error)
        finally:
            last_event_at.append(time.monotonic())  # flushed: every event is delivered
            done.set()

    thread = threading.Thread(target=producer, name="stream-producer", daemon=True)
    thread.start()
    try:
        consumed = consume(
            settings,
            idle_timeout=idle_timeout,
            windows=windows,
            input_done=done,
            on_event=observe,
        )
    finally:
        stopping.set()
        pace.release()
        thread.join()
    if failure:
        raise failure[0]
    return StreamSummary(
        produced=produced[0],
        consumed=consumed,
        after_last_event=round(time.monotonic() - last_event_at[0], 2),
    )
