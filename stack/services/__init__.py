"""The services (PostgreSQL, Kafka) and the two backends that run them: docker and local.

Nothing above this package knows which backend runs: both serve the same ports and
credentials from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from stack.errors import ServiceError
from stack.settings import Settings

BACKEND_STATE_FILE = "backend"  # under STACK_HOME: which backend `stack up` last started


class Backend(Protocol):
    name: str

    def up(self, services: list[str] | None = None): ...
    def down(self, services: list[str] | None = None): ...
    def restart(self, service: str) -> None: ...
    def versions(self) -> dict[str, str]: ...
    def is_running(self) -> bool: ...
    def wipe(self) -> list[str]: ...
    def data_paths(self) -> list: ...
    def logs(self, service: str | None, follow: bool) -> int: ...


def recorded_backend(settings: Settings) -> str | None:
    path = settings.stack_home / BACKEND_STATE_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def record_backend(settings: Settings, name: str | None) -> None:
    path = settings.stack_home / BACKEND_STATE_FILE
    if name is None:
        path.unlink(missing_ok=True)
    else:
        settings.stack_home.mkdir(parents=True, exist_ok=True)
        path.write_text(name + "\n")


def resolve_backend_name(settings: Settings, requested: str | None = None) -> str:
    """An explicit choice (--backend, then STACK_BACKEND), else the one `stack up` started,
    else docker when an engine answers and local otherwise."""
    from stack.services.docker import engine_answers

    configured = None if settings.stack_backend == "auto" else settings.stack_backend
    choice = requested or configured or recorded_backend(settings)
    if choice is None:
        return "docker" if engine_answers() else "local"
    return choice


def get_backend(settings: Settings, requested: str | None = None) -> Backend:
    from stack.services.docker import DockerBackend
    from stack.services.external import ExternalBackend
    from stack.services.local import LocalBackend

    backends = {"docker": DockerBackend, "local": LocalBackend, "external": ExternalBackend}
    return backends[resolve_backend_name(settings, requested)](settings)


def start_services(
    settings: Settings,
    requested: str | None = None,
    on_started: Callable[[str, str], None] = lambda name, what: None,
) -> Backend:
    """`stack up`: start (or find running) every service with the chosen backend and record
    it, so later commands use the same one. `on_started(service, what it did)` per service."""
    running = recorded_backend(settings)
    if requested is not None and running and running != requested:
        raise ServiceError(f"the {running} backend is running: `stack down` it first")
    backend = get_backend(settings, requested)
    record_backend(settings, backend.name)
    try:
        for name, what in backend.up():
            on_started(name, what)
    except BaseException:
        if not backend.is_running():
            record_backend(settings, None)
        raise
    return backend
