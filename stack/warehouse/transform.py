"""`stack transform`: `dbt build` of the project in dbt/ against the warehouse, and a summary.

dbt runs in a child process (`python -m dbt.cli.main`), configured only through the
environment (dbt/profiles.yml reads it), under a timeout: a wedged connection cannot hang
the caller. The summary comes from dbt's own target/run_results.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stack.errors import ConfigError, StackError
from stack.settings import PROJECT_ROOT, Settings
from stack.warehouse.load.run import TARGETS
from stack.warehouse.load.sources import SOURCE_NAMES

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"


@dataclass
class NodeResult:
    name: str
    resource_type: str  # model | test | seed | ...
    status: str  # success | error | fail | warn | skipped | pass
    seconds: float
    message: str | None = None


@dataclass
class TransformSummary:
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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = self.counts
        return data


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
    output: Callable[[str], None] | None = None,
) -> TransformSummary:
    """`dbt build` (seeds, models, tests) on the warehouse; with `docs`, then `dbt docs
    generate`. `output` receives dbt's log lines as they come. Raises TransformError when a
    node fails (the summary is attached), StackError when dbt cannot run at all."""
    target_name = target or settings.warehouse_target
    if target_name not in TARGETS:
        raise ConfigError(
            f"unknown warehouse target {target_name!r} (choose from {', '.join(TARGETS)})"
        )
    if target_name == "duckdb":
        _check_duckdb_ready(settings)
    else:
        from stack.warehouse.load.snowflake_target import check_snowflake_settings

        check_snowflake_settings(settings)
    target_path = target_path or DBT_PROJECT_DIR / "target"
    args = ["build", "--target", target_name]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    started = time.monotonic()
    code = run_dbt(settings, args, target_path=target_path, timeout=timeout, output=output)
    summary = _summary(target_name, "build", code, time.monotonic() - started, target_path)
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
            ["docs", "generate", "--target", target_name],
            target_path=target_path,
            timeout=timeout,
            output=output,
        )
        if docs_code != 0:
            raise StackError(f"dbt docs generate failed (exit code {docs_code})")
    summary.seconds = time.monotonic() - started
    return summary


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt/profiles.yml reads: the stack's settings, and dbt kept offline."""
    return {
        **os.environ,
        **settings.as_env(),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
    }


def _check_duckdb_ready(settings: Settings) -> None:
    import duckdb

    from stack.warehouse.load.duckdb_target import open_duckdb

    path = settings.warehouse_duckdb_path
    if not path.exists():
        raise StackError(f"no warehouse at {path} yet: run `stack load` first")
    con = open_duckdb(path, read_only=True)
    try:
        present = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
    except duckdb.Error as error:
        raise StackError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    finally:
        con.close()
    missing = [name for name in SOURCE_NAMES if name not in present]
    if missing:
        raise StackError(
            f"the warehouse has no raw.{', raw.'.join(missing)} yet: their pipeline has not "
            "written to PostgreSQL (run it, then `stack load`), or `stack load` has not run"
        )


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
    target_path = target_path or DBT_PROJECT_DIR / "target"
    command = [
        sys.executable,
        "-c",
        "from dbt.cli.main import cli; cli()",
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--no-use-colors",
    ]
    process = subprocess.Popen(
        command,
        env=dbt_env(settings),
        cwd=DBT_PROJECT_DIR,
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
