"""Whether the window Application's state belongs to the topic it counts, and a rebuild when
it does not.

The window totals live in three places: the consumer group's committed offsets and Quix's
changelog and repartition topics (in Kafka), and a RocksDB copy of the changelogs in
`STACK_HOME/quix-state/<group>`. They stay consistent with each other through crashes
(exactly-once), but not when one is replaced under the others: a broker wiped (`stack down
--wipe` of an older stack, a `docker compose down -v`) or a topic deleted and created again
leaves a local state whose "seen" transactions silently swallow the same events when they come
again (no totals at all), or whose changelog offsets are ahead of the new changelog's (Quix:
InvalidChangelogOffset). So, before the Application starts:

- the group has no committed offset on the topic (a new, recreated or wiped topic), yet
  something of an earlier run is left (internal topics, local state): everything derived is
  deleted and counted again from the topic;
- the group has committed offsets, but the local state was made on another cluster or for
  another topic of that name (its identity file says so, or there is none): the local copy
  is deleted and Quix restores it from the changelogs;
- Quix finds the state inconsistent anyway while running: everything derived is deleted and
  counted again (`rebuild`), once.

Nothing is done while another member of the group is running (it owns the state).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient
from quixstreams.state.exceptions import InvalidChangelogOffset, InvalidStoreChangelogOffset

from stack.realtime.topics import QUIET, OffsetsProbe
from stack.settings import Settings

log = logging.getLogger(__name__)

IDENTITY_FILE = "stack-identity.json"  # beside the group's state directory
TIMEOUT_S = 30


class WindowState:
    def __init__(self, settings: Settings, group: str, notice: Callable[[str], None]) -> None:
        self.settings = settings
        self.group = group
        self.notice = notice
        self.directory = settings.quix_state_dir / group
        self.identity_file = settings.quix_state_dir / f"{group}.{IDENTITY_FILE}"
        self.rebuilt = False
        self.admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers, **QUIET})

    # --- what is there -----------------------------------------------------------------------
    def identity(self) -> dict[str, str]:
        """The cluster and the topic the window totals count."""
        topic = self.settings.transactions_topic
        cluster = self.admin.describe_cluster(request_timeout=10).result(TIMEOUT_S)
        described = self.admin.describe_topics(TopicCollection([topic]))[topic].result(TIMEOUT_S)
        return {"cluster": cluster.cluster_id, "topic": topic, "topic_id": str(described.topic_id)}

    def internal_topics(self) -> list[str]:
        """The changelog and repartition topics Quix made for this group."""
        names = self.admin.list_topics(timeout=TIMEOUT_S).topics
        prefixes = (f"changelog__{self.group}--", f"repartition__{self.group}--")
        return sorted(name for name in names if name.startswith(prefixes))

    def _others_running(self) -> bool:
        described = self.admin.describe_consumer_groups([self.group])[self.group]
        try:
            return bool(described.result(TIMEOUT_S).members)
        except KafkaException:  # no such group
            return False

    def _committed(self) -> bool:
        with OffsetsProbe(self.settings, self.group) as probe:
            lags = probe.lag(self.settings.transactions_topic, timeout=TIMEOUT_S) or []
        return any(lag.committed is not None for lag in lags)

    def _local(self) -> bool:
        return self.directory.is_dir() and any(self.directory.iterdir())

    def _recorded(self) -> dict | None:
        try:
            return json.loads(self.identity_file.read_text())
        except (OSError, ValueError):
            return None

    # --- what to do --------------------------------------------------------------------------
    def prepare(self) -> None:
        """Before the Application starts: make the state match the topic (see module doc)."""
        if self._others_running():
            return
        identity = self.identity()
        topic = self.settings.transactions_topic
        if not self._committed():
            leftovers = self.internal_topics()
            if leftovers or self._local():
                self.notice(
                    f"the window state of group {self.group} was not made from topic {topic} as "
                    "it is now (the group has no committed offset on it: a new, recreated or "
                    "wiped topic): rebuilding it from the topic"
                )
                self._delete(leftovers)
        elif (recorded := self._recorded()) != identity and self._local():
            made = (
                "has no record of the topic it was made from"
                if recorded is None
                else f"was made on another Kafka cluster or from an earlier topic {topic}"
            )
            self.notice(
                f"the local window state in {self.directory} {made}: restoring it from the "
                "changelog topics"
            )
            shutil.rmtree(self.directory, ignore_errors=True)
        self._record(identity)

    def rebuild(self, error: BaseException) -> bool:
        """After Quix found the state inconsistent while running: delete everything derived,
        so the next Application counts the topic again. False when `error` is not that, or
        when the state was rebuilt once already (then something else is wrong)."""
        if self.rebuilt or not isinstance(
            error, InvalidChangelogOffset | InvalidStoreChangelogOffset
        ):
            return False
        self.rebuilt = True
        self.notice(
            f"the window state does not match its changelog topics ({error}): rebuilding it "
            f"from topic {self.settings.transactions_topic}"
        )
        self._delete(self.internal_topics(), offsets=True)
        return True

    def _delete(self, topics: list[str], *, offsets: bool = False) -> None:
        if topics:
            for future in self.admin.delete_topics(topics, operation_timeout=TIMEOUT_S).values():
                future.result(TIMEOUT_S)
            deadline = time.monotonic() + TIMEOUT_S  # deletion completes in the background
            while set(topics) & set(self.admin.list_topics(timeout=TIMEOUT_S).topics):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        if offsets:
            future = self.admin.delete_consumer_groups([self.group])[self.group]
            try:
                future.result(TIMEOUT_S)
            except KafkaException as error:
                log.debug("could not delete group %s: %s", self.group, error)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.identity_file.unlink(missing_ok=True)

    def _record(self, identity: dict[str, str]) -> None:
        self.identity_file.parent.mkdir(parents=True, exist_ok=True)
        self.identity_file.write_text(json.dumps(identity) + "\n")
