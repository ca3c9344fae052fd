"""`stack stream` and `stack demo`'s realtime step: the producer stays within `lead` events of
the slowest consumer, and the consumers stop once they have caught up with a producer that is
done, without waiting for quiet (the window process included: it is told, not idle)."""

from __future__ import annotations

import threading
import time

from stack.progress import Event
from stack.realtime.consumer import WINDOW_TOTALS, consume
from stack.realtime.producer import produce
from stack.realtime.stream import stream
from stack.realtime.topics import ensure_topic, windows_group
from tests.realtime.helpers import members_with_partitions, wait_until, window_mismatches

BATCH = 2000  # the producer's batch at full speed: it is held between batches


def test_the_producer_stays_within_its_lead_and_the_stream_ends_when_caught_up(settings):
    events: list[Event] = []
    lead = 500
    summary = stream(
        settings, count=6000, seed=5, bad_ratio=0.01, lead=lead, on_event=events.append
    )

    consumed = summary.consumed
    assert summary.produced.events == consumed.messages == consumed.windows.messages == 6000
    assert (consumed.stopped_by, consumed.windows.stopped_by) == ("idle", "idle")
    assert consumed.sink_rows == summary.produced.unique_transactions
    assert window_mismatches(settings) == []
    # Each batch went out only once both consumers were within `lead` of what was sent
    # before it: what the producer had sent never ran more than a batch past that.
    counts = {settings.transactions_topic: 0, WINDOW_TOTALS: 0}
    ahead = []
    for event in events:
        if event.job == "consume" and event.item in counts and event.done is not None:
            counts[event.item] = max(counts[event.item], event.done)
        elif event.job == "produce" and event.kind == "progress":
            ahead.append(event.done - min(counts.values()))
    assert ahead and max(ahead) <= lead + BATCH, ahead
    assert summary.after_last_event >= 0


def test_the_window_process_is_told_that_the_input_is_done_and_not_idle_before(settings):
    # An idle timeout of 0 and an empty topic: a window process that judged by quiet alone
    # would stop as soon as it has joined, before the events come.
    ensure_topic(settings)
    windows = settings.model_copy(update={"consumer_group": windows_group(settings)})
    input_done = threading.Event()
    events: list[Event] = []
    produced = []

    def later() -> None:
        wait_until(lambda: members_with_partitions(windows), timeout=120, what="windows joined")
        time.sleep(1.5)  # several of its idle checks, caught up with an empty topic
        produced.append(produce(settings, count=1500, seed=9))
        input_done.set()

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    summary = consume(settings, idle_timeout=0, input_done=input_done, on_event=events.append)
    thread.join()

    assert summary.messages == summary.windows.messages == 1500
    assert summary.windows.stopped_by == "idle"
    assert window_mismatches(settings) == []
    through = [e.done for e in events if e.item == WINDOW_TOTALS and e.kind == "progress"]
    assert through and through == sorted(through) and through[-1] <= 1500
    assert any(e.item == WINDOW_TOTALS and e.kind == "done" for e in events)
