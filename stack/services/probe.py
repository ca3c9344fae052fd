"""Is a service answering? Backend-agnostic checks over real connections."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from stack.settings import Settings


@dataclass
class ServiceStatus:
    name: str
    healthy: bool
    address: str
    version: str | None = None
    backend: str | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def postgres_status(settings: Settings) -> ServiceStatus:
    import psycopg

    address = f"{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
    try:
        with psycopg.connect(settings.postgres_conninfo(), connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchall()[0][0]
        return ServiceStatus("postgres", True, address, version=version.split()[0])
    except psycopg.Error as error:
        # the first line of libpq's message names the cause (refused, auth, no database)
        return ServiceStatus("postgres", False, address, detail=str(error).strip().splitlines()[0])


def kafka_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    return _kafka_metadata(bootstrap, timeout) is not None


def _kafka_metadata(bootstrap: str, timeout: float):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, "logger": _silent})
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException:
        return None


def kafka_status(settings: Settings) -> ServiceStatus:
    bootstrap = settings.kafka_bootstrap_servers
    metadata = _kafka_metadata(bootstrap, timeout=3.0)
    if metadata is None:
        return ServiceStatus("kafka", False, bootstrap, detail="no broker answered within 3 s")
    topics = [t for t in metadata.topics if not t.startswith("__")]
    return ServiceStatus(
        "kafka",
        True,
        bootstrap,
        detail=f"{len(metadata.brokers)} broker(s), {len(topics)} topic(s)",
    )


class _SilentLogger:
    """librdkafka logs connection refusals loudly; a probe expects them."""

    def log(self, *args, **kwargs) -> None:
        pass

    def __getattr__(self, _name):
        return self.log


_silent = _SilentLogger()
