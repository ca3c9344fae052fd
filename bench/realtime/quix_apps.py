"""The baselines of bench.realtime.latency as processes of their own, like `stack consume`:
Quix's PostgreSQLSink (its defaults, or with upsert) and a Quix consumer that writes nothing.

    python -m bench.realtime.quix_apps postgresql|upsert|nothing [--idle-timeout S]
        [--commit-interval S]

Settings come from the environment (topic, group, database), as for `stack`. Without
--idle-timeout it runs until SIGTERM (Quix's own handler: a last commit, then exit). It ends
by printing one JSON line: the first and last message's processing times (time.time()).
"""

from __future__ import annotations

import argparse
import json
import time

from quixstreams import Application
from quixstreams.sinks import BaseSink
from quixstreams.sinks.community.postgresql import PostgreSQLSink

from stack.realtime.topics import FAST_GROUP
from stack.settings import Settings, load_settings

TABLE = "transactions_quix"
# Pre-created as PostgreSQLSink creates it, plus a column that says when each row was written
# (the sink adds the value columns and the primary key itself).
CREATE_TABLE = (
    f'CREATE TABLE IF NOT EXISTS {TABLE} ("timestamp" timestamp NOT NULL, __key text,'
    " written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
)


class WriteNothing(BaseSink):
    def add(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass


def postgresql_sink(settings: Settings, *, upsert: bool) -> PostgreSQLSink:
    return PostgreSQLSink(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        table_name=TABLE,
        primary_key_columns="transaction_id",
        upsert_on_primary_key=upsert,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime.quix_apps")
    parser.add_argument("kind", choices=("postgresql", "upsert", "nothing"))
    parser.add_argument("--idle-timeout", type=float, default=0.0)
    parser.add_argument("--commit-interval", type=float, default=5.0)  # Quix's default
    args = parser.parse_args()
    settings = load_settings()
    marks: list[float] = []

    def processed(*_args: object) -> None:
        now = time.time()
        if not marks:
            marks.append(now)
        marks[1:] = [now]

    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=settings.consumer_group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        consumer_extra_config=FAST_GROUP,  # the same quick group join as the stack's
        on_message_processed=processed,
        state_dir=settings.quix_state_dir,
        loglevel="ERROR",
    )  # every other setting is Quix's default
    topic = app.topic(settings.transactions_topic, value_deserializer="json")
    if args.kind == "nothing":
        sink: BaseSink = WriteNothing()
    else:
        sink = postgresql_sink(settings, upsert=args.kind == "upsert")
    app.dataframe(topic).sink(sink)
    app.run(timeout=args.idle_timeout)
    print(json.dumps({"first": marks[0] if marks else None, "last": marks[-1] if marks else None}))


if __name__ == "__main__":
    main()
