"""A small client of Airflow's REST API (v2): trigger a DAG and wait for its run, list DAGs
and their last runs, report health. It logs in as AIRFLOW_ADMIN_USER (POST /auth/token)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from stack.errors import ConfigError, ServiceError, StackError
from stack.orchestration.environment import base_url
from stack.settings import Settings

FINISHED = ("success", "failed")
DAG_APPEARS_TIMEOUT_S = 120  # a DAG file the dag-processor has not parsed yet


def health(settings: Settings, timeout: float = 3.0) -> dict | None:
    """/api/v2/monitor/health (no login needed); None when the API server does not answer."""
    try:
        with urllib.request.urlopen(
            base_url(settings) + "/api/v2/monitor/health", timeout=timeout
        ) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


class AirflowClient:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.base = base_url(settings)
        self.timeout = timeout
        self._token: str | None = None

    def _send(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            if error.code == 401:
                raise ConfigError(
                    f"Airflow refused the login of AIRFLOW_ADMIN_USER={self.settings.airflow_admin_user}"
                    " (check AIRFLOW_ADMIN_PASSWORD)"
                ) from None
            raise HTTPStatusError(
                error.code, f"{method} {path}: HTTP {error.code} {detail}"
            ) from None
        except OSError as error:
            raise ServiceError(
                f"Airflow is not answering at {self.base} ({error}): start it with "
                "`stack up --airflow`"
            ) from None

    def token(self) -> str:
        if self._token is None:
            body = {
                "username": self.settings.airflow_admin_user,
                "password": self.settings.airflow_admin_password.get_secret_value(),
            }
            self._token = self._send("POST", "/auth/token", body, auth=False)["access_token"]
        return self._token

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._send("GET", path + (f"?{query}" if query else ""))

    def post(self, path: str, body: dict) -> dict:
        return self._send("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._send("PATCH", path, body)


class HTTPStatusError(StackError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- what the commands return -------------------------------------------------------------------
@dataclass
class TaskResult:
    task_id: str
    state: str | None
    try_number: int
    seconds: float | None


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    seconds: float
    url: str
    tasks: list[TaskResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.state == "success" else 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DagInfo:
    dag_id: str
    paused: bool
    schedule: str | None
    last_run_id: str | None = None
    last_run_state: str | None = None
    last_run_after: str | None = None


@dataclass
class DagList:
    dags: list[DagInfo] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _dag_path(dag_id: str) -> str:
    return f"/api/v2/dags/{urllib.parse.quote(dag_id, safe='')}"


def run_dag(
    settings: Settings,
    dag_id: str,
    *,
    conf: dict | None = None,
    timeout: float = 3600,
    poll: float = 2.0,
    on_task: Callable[[TaskResult], None] | None = None,
) -> DagRunResult:
    """Unpause `dag_id`, trigger a run with `conf`, wait until it finishes; its result.
    `on_task` is called whenever a task instance changes state."""
    client = AirflowClient(settings)
    path = _dag_path(dag_id)
    deadline = time.monotonic() + DAG_APPEARS_TIMEOUT_S
    while True:
        try:
            client.patch(path, {"is_paused": False})
            break
        except HTTPStatusError as error:
            if error.status != 404:
                raise
            if time.monotonic() > deadline:
                raise StackError(
                    f"Airflow has no DAG {dag_id!r} (`stack airflow dags` lists them; a new DAG "
                    "file takes the dag-processor a moment)"
                ) from None
            time.sleep(poll)
    started = time.monotonic()
    run = client.post(f"{path}/dagRuns", {"logical_date": None, "conf": conf or {}})
    run_id = run["dag_run_id"]
    seen: dict[str, str | None] = {}
    while True:
        run = client.get(f"{path}/dagRuns/{urllib.parse.quote(run_id, safe='')}")
        tasks = _tasks(client, path, run_id)
        for task in tasks:
            if seen.get(task.task_id) != task.state:
                seen[task.task_id] = task.state
                if on_task is not None:
                    on_task(task)
        if run["state"] in FINISHED:
            break
        if time.monotonic() - started > timeout:
            raise StackError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")
        time.sleep(poll)
    result = DagRunResult(
        dag_id,
        run_id,
        run["state"],
        round(time.monotonic() - started, 3),
        f"{client.base}/dags/{dag_id}/runs/{run_id}",
        tasks,
    )
    return result


def _tasks(client: AirflowClient, path: str, run_id: str) -> list[TaskResult]:
    found = client.get(f"{path}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances")
    return [
        TaskResult(ti["task_id"], ti["state"], ti["try_number"], ti.get("duration"))
        for ti in found["task_instances"]
    ]


def list_dags(settings: Settings) -> DagList:
    client = AirflowClient(settings)
    listed = DagList()
    for dag in client.get("/api/v2/dags", limit=100)["dags"]:
        info = DagInfo(dag["dag_id"], dag["is_paused"], dag.get("timetable_summary"))
        runs = client.get(f"{_dag_path(dag['dag_id'])}/dagRuns", order_by="-run_after", limit=1)[
            "dag_runs"
        ]
        if runs:
            info.last_run_id = runs[0]["dag_run_id"]
            info.last_run_state = runs[0]["state"]
            info.last_run_after = runs[0]["run_after"]
        listed.dags.append(info)
    return listed
