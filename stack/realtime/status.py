"""What `stack status` shows about the realtime pipeline (a PIPELINE_SECTIONS entry)."""

from __future__ import annotations

import psycopg
from confluent_kafka import KafkaException

from stack.realtime.topics import OffsetsProbe, windows_group
from stack.settings import Settings
from stack.tables import row_counts, tables_of


def _lag(settings: Settings, group: str) -> tuple[list, int] | None:
    with OffsetsProbe(settings, group) as probe:
        lags = probe.lag(settings.transactions_topic)
    if lags is None:
        return None
    return lags, sum(p.lag for p in lags)


def realtime_status(settings: Settings) -> tuple[str, dict] | None:
    """Topic end offsets, both consumer groups' lag, and the tables' row counts; None when
    neither the topic nor the tables exist yet."""
    data: dict = {}
    try:
        sink = _lag(settings, settings.consumer_group)
        if sink is not None:
            lags, total = sink
            windows = _lag(settings, windows_group(settings))
            data["topic"] = settings.transactions_topic
            data["end_offsets"] = {str(p.partition): p.end for p in lags}
            data["events"] = sum(p.end - p.start for p in lags)
            data["consumer_group"] = settings.consumer_group
            data["lag"] = total
            data["windows_lag"] = windows[1] if windows else None
    except KafkaException as error:
        data["kafka_error"] = error.args[0].str()
    try:
        with psycopg.connect(settings.postgres_conninfo(), connect_timeout=3) as conn:
            for table, rows in row_counts(conn, tables_of("realtime")).items():
                data[f"{table}_rows"] = rows
    except psycopg.Error as error:
        data["postgres_error"] = (str(error).strip().splitlines() or ["unreachable"])[0]
    if "topic" not in data and not any(key.endswith("_rows") for key in data):
        return None
    return "realtime", data
