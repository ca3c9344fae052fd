"""`stack transform`: `dbt build` of the project in dbt/ against the warehouse, and a summary.

dbt runs in a child process (`python -m dbt.cli.main`), configured only through the
environment (dbt/profiles.yml reads it), under a timeout: a wedged connection cannot hang
the caller. The summary comes from dbt's own target/run_results.json.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stack.errors import StackError
from stack.progress import OnEvent, Reporter
from stack.project import dbt_dir, dbt_target_dir
from stack.settings import Settings
from stack.summary import Summary
from stack.tables import SOURCE_TABLES
from stack.warehouse.targets import get_target

log = logging.getLogger(__name__)


@dataclass
class NodeResult:
    name: str
    resource_type: str  # model | test | seed | ...
    status: str  # success | error | fail | warn | skipped | pass
    seconds: float
    message: str | None = None


@dataclass
class TransformSummary(Summary):
    target: str
    command: str
    success: bool
    seconds: float
    results: list[NodeResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """resource type -> status -> how many."""
        counted: dict[str, Counter] = {}
        for result in self.results:
            counted.setdefault(result.resource_type, Counter())[result.status] += 1
        return {kind: dict(statuses) for kind, statuses in counted.items()}

    @property
    def failures(self) -> list[NodeResult]:
        return [r for r in self.results if r.status in ("error", "fail", "runtime error")]

    derived = ("counts",)


class TransformError(StackError):
    """dbt ran and reported failures; `summary` says which."""

    def __init__(self, message: str, summary: TransformSummary) -> None:
        super().__init__(message)
        self.summary = summary


def transform(
    settings: Settings,
    *,
    target: str | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    docs: bool = False,
    timeout: float = 3600,
    target_path: Path | None = None,
    on_event: OnEvent | None = None,
) -> TransformSummary:
    """`dbt build` (seeds, models, tests) on the warehouse; with `docs`, then `dbt docs
    generate`. dbt's log lines arrive as `log` events. Raises TransformError when a node
    fails (the summary is attached), StackError when dbt cannot run at all."""
    dbt_dir(settings)  # a missing project is a setting to fix, before anything else
    warehouse = get_target(settings, target)
    warehouse.check_ready([table.name for table in SOURCE_TABLES if table.dbt])
    report = Reporter("transform", on_event, log)
    target_path = target_path or dbt_target_dir(settings)
    args = ["build", "--target", warehouse.name]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    started = time.monotonic()
    report.start(detail=f"dbt build on {warehouse.name}")
    code = run_dbt(settings, args, target_path=target_path, timeout=timeout, output=report.line)
    summary = _summary(warehouse.name, "build", code, time.monotonic() - started, target_path)
    if not summary.success:
        failed = summary.failures
        names = ", ".join(f"{r.name} ({r.status})" for r in failed[:5]) or f"exit code {code}"
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise TransformError(
            f"dbt build failed: {names}{more} (see the lines above, or "
            f"{target_path / 'run_results.json'})",
            summary,
        )
    if docs:
        docs_code = run_dbt(
            settings,
            ["docs", "generate", "--target", warehouse.name],
            target_path=target_path,
            timeout=timeout,
            output=report.line,
        )
        if docs_code != 0:
            raise StackError(f"dbt docs generate failed (exit code {docs_code})")
    summary.seconds = time.monotonic() - started
    report.done(detail=f"dbt build passed in {summary.seconds:.1f} s")
    return summary


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt/profiles.yml reads: the stack's settings, and dbt kept offline."""
    return {
        **os.environ,
        **settings.as_env(),
        "DBT_PROFILES_DIR": str(dbt_dir(settings)),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
    }


def run_dbt(
    settings: Settings,
    args: list[str],
    *,
    target_path: Path | None = None,
    timeout: float = 3600,
    output: Callable[[str], None] | None = None,
) -> int:
    """Any dbt command on the project (`["test", "--select", "..."]`, `["source",
    "freshness"]`, ...) with the stack's settings; its exit code. Stopped after `timeout`."""
    project = dbt_dir(settings)
    target_path = target_path or dbt_target_dir(settings)
    command = [
        sys.executable,
        "-c",
        "from dbt.cli.main import cli; cli()",
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--no-use-colors",
    ]
    process = subprocess.Popen(
        command,
        env=dbt_env(settings),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, stop)
    timer.start()
    try:
        for line in process.stdout:
            if output is not None:
                output(line.rstrip("\n"))
        code = process.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise StackError(f"dbt {args[0]} did not finish within {timeout:.0f} s and was stopped")
    return code


def _summary(
    target: str, command: str, code: int, seconds: float, target_path: Path
) -> TransformSummary:
    summary = TransformSummary(target=target, command=command, success=code == 0, seconds=seconds)
    results_file = target_path / "run_results.json"
    if results_file.exists():
        data = json.loads(results_file.read_text())
        for item in data.get("results", []):
            unique_id = item["unique_id"]
            summary.results.append(
                NodeResult(
                    name=_node_name(unique_id),
                    resource_type=unique_id.split(".")[0],
                    status=str(item["status"]),
                    seconds=float(item.get("execution_time") or 0.0),
                    message=item.get("message"),
                )
            )
    return summary


def _node_name(unique_id: str) -> str:
    """model.stack.fct_transactions -> fct_transactions; test.stack.<name>.<hash> -> <name>;
    source.stack.realtime.transactions_sink -> realtime.transactions_sink."""
    kind, _project, *rest = unique_id.split(".")
    return rest[0] if kind == "test" else ".".join(rest)
