"""The services (PostgreSQL, Kafka) and the backends that run them: docker, local, external.

Nothing above this package knows which backend runs: every backend serves the same ports and
credentials from the settings.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from stack.errors import ServiceError
from stack.progress import OnEvent, Reporter
from stack.services.process import remove_paths
from stack.summary import Summary

if TYPE_CHECKING:
    from stack.settings import Settings

log = logging.getLogger(__name__)

# Every backend, by name: its module and class (imported when chosen). The settings'
# STACK_BACKEND choices and the CLI's --backend derive from this.
BACKENDS: dict[str, tuple[str, str]] = {
    "docker": ("stack.services.docker", "DockerBackend"),
    "local": ("stack.services.local", "LocalBackend"),
    "external": ("stack.services.external", "ExternalBackend"),
}
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)
SERVICE_NAMES: tuple[str, ...] = ("postgres", "kafka")
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


@dataclass
class ServiceAction:
    service: str
    what: str  # "started", "already running", "stopped", ...


@dataclass
class ServicesReport(Summary):
    """What `stack up` / `stack down` did."""

    backend: str
    actions: list[ServiceAction] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # with --wipe: what was removed
    seconds: float = 0.0


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
    module, cls = BACKENDS[resolve_backend_name(settings, requested)]
    return getattr(importlib.import_module(module), cls)(settings)


def start_services(
    settings: Settings,
    requested: str | None = None,
    *,
    airflow: bool = False,
    on_event: OnEvent | None = None,
) -> ServicesReport:
    """`stack up`: start (or find running) every service with the chosen backend and record
    it, so later commands use the same one. One `item` event per service. With `airflow` (or
    STACK_AIRFLOW=true), then Airflow (stack.orchestration)."""
    report = Reporter("services", on_event, log)
    running = recorded_backend(settings)
    if requested is not None and running and running != requested:
        raise ServiceError(f"the {running} backend is running: `stack down` it first")
    started = time.monotonic()
    backend = get_backend(settings, requested)
    report.start(detail=f"{backend.name} backend")
    summary = ServicesReport(backend.name)
    record_backend(settings, backend.name)
    try:
        for name, what in backend.up():
            summary.actions.append(ServiceAction(name, what))
            report.item(name, what)
    except BaseException:
        if not backend.is_running():
            record_backend(settings, None)
        raise
    if airflow or settings.stack_airflow:
        from stack.orchestration.lifecycle import start_airflow

        report.start("airflow", detail="about a minute the first time")
        what = start_airflow(settings, backend.name)
        summary.actions.append(ServiceAction("airflow", what))
        report.item("airflow", what)
    summary.seconds = time.monotonic() - started
    report.done(detail=f"ready in {summary.seconds:.1f} s")
    return summary


def stop_services(
    settings: Settings, *, wipe: bool = False, on_event: OnEvent | None = None
) -> ServicesReport:
    """`stack down`: stop every service; with `wipe`, then delete everything the stack keeps
    (the backend's data; the stack's own files, whatever the backend: the DuckDB warehouse and
    the window totals' state, which is derived from Kafka's topics and must go with them),
    after a notice that says what."""
    report = Reporter("services", on_event, log)
    started = time.monotonic()
    from stack.orchestration import lifecycle

    backend = get_backend(settings)
    summary = ServicesReport(backend.name)
    stopped = lifecycle.stop_airflow(settings, backend.name)  # before PostgreSQL: its metadata
    if stopped is not None:
        summary.actions.append(ServiceAction("airflow", stopped))
        report.item("airflow", stopped)
    for name, what in backend.down():
        summary.actions.append(ServiceAction(name, what))
        report.item(name, what)
    if wipe:
        own = [
            path
            for path in (settings.quix_state_dir, settings.warehouse_duckdb_path)
            if path.exists()
        ]
        targets = [
            *map(str, backend.data_paths()),
            *lifecycle.airflow_data(settings),
            *map(str, own),
        ]
        report.notice("deleting: " + (", ".join(targets) or "nothing stored"))
        backend.wipe()
        lifecycle.wipe_airflow(settings)
        remove_paths(own)
        summary.deleted = targets
    record_backend(settings, None)
    summary.seconds = time.monotonic() - started
    return summary
