"""The local backend: PostgreSQL and Kafka as processes of this machine, state under STACK_HOME."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from stack.errors import ServiceError
from stack.services import process
from stack.services.local.kafka import LocalKafka
from stack.services.local.postgres import LocalPostgres
from stack.settings import Settings


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres = LocalPostgres(settings)
        self.kafka = LocalKafka(settings)
        self.services = {"postgres": self.postgres, "kafka": self.kafka}

    def up(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        for name in services or list(self.services):
            yield name, self.services[name].up()

    def down(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        # Every service gets its stop even when an earlier one fails: a failed Kafka stop
        # must not leave PostgreSQL running. The first failure is raised at the end.
        failure: ServiceError | None = None
        for name in reversed(services or list(self.services)):
            try:
                yield name, self.services[name].down()
            except ServiceError as error:
                failure = failure or error
                yield name, f"failed to stop: {error}"
        if failure is not None:
            raise failure

    def restart(self, service: str) -> None:
        self.services[service].down()
        self.services[service].up()

    def versions(self) -> dict[str, str]:
        return {"postgres": self.postgres.binary_version(), "kafka": self.kafka.version()}

    def is_running(self) -> bool:
        return any(service.is_running() for service in self.services.values())

    def data_paths(self) -> list[Path]:
        return [path for service in self.services.values() for path in service.data_paths()]

    def wipe(self) -> list[str]:
        return process.remove_paths(self.data_paths())

    def log_files(self) -> dict[str, Path]:
        return {"postgres": self.postgres.log_file, "kafka": self.kafka.log_file}

    def logs(self, service: str | None, follow: bool) -> int:
        files = [
            str(path)
            for name, path in self.log_files().items()
            if (service in (None, name)) and path.exists()
        ]
        if not files:
            return 0
        return subprocess.call(["tail", "-n", "100", *(["-F"] if follow else []), *files])
