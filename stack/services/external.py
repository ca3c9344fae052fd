"""The external backend: services someone else runs (the devcontainer's compose, a CI service
container, a shared dev database). `stack up` only waits until they answer."""

from __future__ import annotations

from collections.abc import Iterator

from stack.errors import ServiceError
from stack.services.probe import kafka_status, postgres_status
from stack.services.process import wait_until
from stack.settings import Settings

WAIT_S = 120


class ExternalBackend:
    name = "external"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._probes = {"postgres": postgres_status, "kafka": kafka_status}

    def up(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        for name in services or list(self._probes):
            probe = self._probes[name]
            wait_until(
                lambda probe=probe: probe(self.settings).healthy,
                what=f"{name} at {probe(self.settings).address} (STACK_BACKEND=external: it is "
                "started outside stack)",
                timeout=WAIT_S,
                interval=1.0,
            )
            yield name, "answering (managed outside stack)"

    def down(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        for name in services or list(self._probes):
            yield name, "managed outside stack: left running"

    def _not_ours(self, what: str) -> ServiceError:
        return ServiceError(
            f"STACK_BACKEND=external: stack does not {what} these services; "
            "use the tool that runs them (e.g. docker compose on the host)"
        )

    def restart(self, service: str) -> None:
        raise self._not_ours("restart")

    def versions(self) -> dict[str, str]:
        return {}

    def is_running(self) -> bool:
        return any(probe(self.settings).healthy for probe in self._probes.values())

    def wipe(self) -> list[str]:
        raise self._not_ours("delete the data of")

    def data_paths(self) -> list[str]:
        return []

    def logs(self, service: str | None, follow: bool) -> int:
        raise self._not_ours("keep the logs of")
