"""Airflow beside the services: started by `stack up --airflow` (or with STACK_AIRFLOW=true),
stopped by `stack down`, shown by `stack status`. With the docker backend it is compose.yaml's
`airflow` profile; otherwise the local processes of stack.orchestration.local."""

from __future__ import annotations

from stack.orchestration.local import AirflowStatus, LocalAirflow
from stack.settings import Settings

# compose.yaml's profile and its long-running services (airflow-init runs before them)
COMPOSE_PROFILE = "airflow"
COMPOSE_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


def _compose(settings: Settings, *args: str) -> None:
    from stack.services.docker import DockerBackend

    DockerBackend(settings)._compose("--profile", COMPOSE_PROFILE, *args)


def start_airflow(settings: Settings, backend: str) -> str:
    """Start Airflow for `backend` (whose services are up); what it did."""
    if backend == "docker":
        _compose(settings, "up", "-d", "--wait", "--wait-timeout", "300", *COMPOSE_SERVICES)
        return "up (compose profile airflow)"
    return LocalAirflow(settings).up()


def stop_airflow(settings: Settings, backend: str) -> str | None:
    """Stop Airflow if the stack started it; None when there was nothing to stop."""
    if backend == "docker":
        _compose(settings, "stop", *COMPOSE_SERVICES)
        return "stopped (compose)"
    local = LocalAirflow(settings)
    return local.down() if local.is_running() else None


def airflow_data(settings: Settings) -> list[str]:
    """What `wipe_airflow` deletes (that exists)."""
    return [str(path) for path in LocalAirflow(settings).data_paths() if path.exists()]


def wipe_airflow(settings: Settings) -> list[str]:
    """Delete AIRFLOW_HOME and Airflow's logs (its metadata database goes with PostgreSQL's)."""
    return LocalAirflow(settings).wipe()


def airflow_status(settings: Settings, backend: str) -> AirflowStatus | None:
    """Airflow's health from its API; None when it is neither running nor asked for."""
    local = LocalAirflow(settings)
    if backend != "docker" and not local.is_running() and not settings.stack_airflow:
        return None
    if backend != "docker":
        return local.status()
    from stack.orchestration.client import health
    from stack.orchestration.environment import base_url

    report = health(settings)
    if report is None:
        return AirflowStatus(False, base_url(settings), {}, detail="the API does not answer")
    components = {
        name: part.get("status") or "unknown"
        for name, part in report.items()
        if name != "metadatabase"
    }
    healthy = all(state == "healthy" for state in components.values())
    return AirflowStatus(healthy, base_url(settings), components)
