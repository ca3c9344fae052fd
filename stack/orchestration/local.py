"""Airflow as local processes (the local and external backends): api-server, scheduler,
dag-processor and triggerer, AIRFLOW_HOME under STACK_HOME, metadata in the stack's
PostgreSQL (database AIRFLOW_DB). Each component runs in a session of its own, so stopping
it stops the workers it forked too."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stack.errors import ServiceError
from stack.orchestration import environment
from stack.services import process
from stack.settings import Settings

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# What /api/v2/monitor/health calls each component (the api-server answers for itself).
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
START_TIMEOUT_S = 240  # cold, on 2 busy cores: ~1-2.5 min
MIGRATE_TIMEOUT_S = 600


@dataclass
class AirflowStatus:
    healthy: bool
    address: str
    components: dict[str, str]  # component -> healthy | unhealthy | down
    version: str | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return {
            "healthy": self.healthy,
            "address": self.address,
            "components": self.components,
            "version": self.version,
            "detail": self.detail,
        }


class LocalAirflow:
    name = "airflow"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = environment.airflow_home(settings)
        self.pid_dir = self.home / "pids"
        self.log_dir = settings.stack_home / "logs"

    # --- paths -----------------------------------------------------------------------------
    def pid_file(self, component: str) -> Path:
        return self.pid_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"airflow-{component}.log"

    def pids(self) -> dict[str, int]:
        """The running components' process ids (stale pid files are ignored)."""
        found = {}
        for component in COMPONENTS:
            pid = process.read_pid(self.pid_file(component))
            if pid is not None and process.pid_alive(pid):
                found[component] = pid
        return found

    def is_running(self) -> bool:
        return bool(self.pids())

    def data_paths(self) -> list[Path]:
        return [self.home, *(self.log_file(c) for c in COMPONENTS)]

    # --- lifecycle ---------------------------------------------------------------------------
    def _run(self, airflow: Path, *args: str, timeout: float) -> None:
        result = subprocess.run(
            [str(airflow), *args],
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=timeout,
            check=False,
            cwd=self.home,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise ServiceError(f"`airflow {' '.join(args)}` failed: {' '.join(tail)}")

    def _env(self) -> dict[str, str]:
        return {**os.environ, **environment.airflow_env(self.settings)}

    def _ensure_database(self) -> bool:
        """Create the metadata database unless it exists; True when it was created."""
        import psycopg
        from psycopg import sql

        from stack.db import connect

        with connect(self.settings, autocommit=True, dbname="postgres") as conn:
            name = self.settings.airflow_db
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchall():
                return False
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True

    def migrate(self, airflow: Path) -> str:
        """`airflow db migrate`, once per Airflow version and metadata database."""
        marker = self.home / "migrated"
        stamp = f"{airflow.resolve()} {self.settings.postgres_host}:{self.settings.postgres_port}/{self.settings.airflow_db}"
        created = self._ensure_database()
        if not created and marker.is_file() and marker.read_text() == stamp:
            return "up to date"
        self._run(airflow, "db", "migrate", timeout=MIGRATE_TIMEOUT_S)
        marker.write_text(stamp)
        return "migrated"

    def prepare(self, airflow: Path) -> str:
        """The admin's password file, the metadata database, its migration (`stack airflow
        init`; compose's airflow-init runs it too)."""
        self.home.mkdir(parents=True, exist_ok=True)
        environment.write_passwords_file(self.settings)
        return self.migrate(airflow)

    def up(self) -> str:
        """Migrate (first time), start the components, wait until the API reports all healthy."""
        running = self.pids()
        if len(running) == len(COMPONENTS):
            return "already running"
        if running:
            self.down()  # half up (a crash): start over cleanly
        airflow = environment.find_airflow(self.settings)
        environment.check_stack_installed(airflow)
        port = self.settings.airflow_port
        if process.port_in_use("127.0.0.1", port):
            raise ServiceError(
                f"port {port} is already in use by another program: stop it, or set "
                "AIRFLOW_PORT in .env to a free port"
            )
        started = time.monotonic()
        what = self.prepare(airflow)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        for component in COMPONENTS:
            with self.log_file(component).open("ab") as log:
                child = subprocess.Popen(
                    [str(airflow), component],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.home,
                    start_new_session=True,  # its own process group: stopped as one
                )
            self.pid_file(component).write_text(f"{child.pid}\n")
        try:
            process.wait_until(
                lambda: self.status().healthy,
                what=f"Airflow at {environment.base_url(self.settings)} to report healthy",
                timeout=START_TIMEOUT_S,
                interval=1.0,
                alive=lambda: len(self.pids()) == len(COMPONENTS),
                hint=f"(logs: {self.log_dir}/airflow-*.log)",
            )
        except ServiceError:
            self.down()
            raise
        return f"{what}, started in {time.monotonic() - started:.0f} s"

    def down(self) -> str:
        running = self.pids()
        for component in reversed(COMPONENTS):
            pid = running.get(component)
            if pid is not None:
                _stop_group(pid, what=f"airflow {component}")
            self.pid_file(component).unlink(missing_ok=True)
        return "stopped" if running else "not running"

    def wipe(self) -> list[str]:
        return process.remove_paths(self.data_paths())

    # --- health ----------------------------------------------------------------------------
    def status(self) -> AirflowStatus:
        from stack.orchestration.client import health

        address = environment.base_url(self.settings)
        running = self.pids()
        report = health(self.settings)
        components = {}
        for component in COMPONENTS:
            if component not in running:
                components[component] = "down"
            elif component == "api-server":
                components[component] = "healthy" if report is not None else "unhealthy"
            else:
                state = (report or {}).get(HEALTH_KEYS[component], {}).get("status")
                components[component] = "healthy" if state == "healthy" else "unhealthy"
        healthy = all(state == "healthy" for state in components.values())
        detail = ", ".join(f"{c} {s}" for c, s in components.items() if s != "healthy")
        return AirflowStatus(healthy, address, components, detail=detail)


def _stop_group(pid: int, *, what: str, timeout: float = 30.0) -> None:
    """SIGTERM to the component's whole process group, wait, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.2)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        process.wait_until(
            lambda: not _group_alive(pid), what=f"{what} (pid {pid}) to exit", timeout=10
        )


def _group_alive(pgid: int) -> bool:
    """True while any process of the group runs (zombies do not count)."""
    return any(process.pid_alive(pid) for pid in group_members(pgid))


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
