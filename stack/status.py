"""`stack status`: every service's health, plus what each pipeline reports about itself."""

from __future__ import annotations

from collections.abc import Callable

from stack.batch.status import batch_section
from stack.realtime.status import realtime_status
from stack.services import get_backend, recorded_backend, resolve_backend_name
from stack.services.probe import kafka_status, postgres_status
from stack.settings import Settings
from stack.warehouse.status import warehouse_section

# Each pipeline's report on itself: (section name, data), or None while it has nothing to say
# (its tables or topics do not exist yet); with the services it reads, asked only when those
# are healthy.
PipelineSection = Callable[[Settings], "tuple[str, dict] | None"]
PIPELINE_SECTIONS: list[tuple[tuple[str, ...], PipelineSection]] = [
    (("postgres", "kafka"), realtime_status),
    (("postgres",), batch_section),
    ((), warehouse_section),
]


def collect_status(settings: Settings) -> dict:
    backend_name = resolve_backend_name(settings)
    try:
        versions = get_backend(settings, backend_name).versions()
    except Exception:  # a backend that cannot even say its versions is reported as unknown
        versions = {}
    services = {}
    for status in (postgres_status(settings), kafka_status(settings)):
        status.backend = backend_name
        status.version = status.version or versions.get(status.name)
        services[status.name] = status.to_dict()
    from stack.orchestration.lifecycle import airflow_status

    airflow = airflow_status(settings, backend_name)  # None unless started or asked for
    if airflow is not None:
        services["airflow"] = {"name": "airflow", "backend": backend_name, **airflow.to_dict()}
    pipelines = {}
    for needs, section in PIPELINE_SECTIONS:
        if all(services[name]["healthy"] for name in needs):
            found = section(settings)
            if found is not None:
                pipelines[found[0]] = found[1]
    return {
        "backend": backend_name,
        "started_by_stack": recorded_backend(settings) is not None,
        "healthy": all(service["healthy"] for service in services.values()),
        "services": services,
        "pipelines": pipelines,
    }
