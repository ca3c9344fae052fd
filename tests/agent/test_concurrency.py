"""DuckDB allows one writer: the agent answers from its snapshot, so `stack load` is never
blocked by a question, and a load holding the file is reported, not waited for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stack.agent.warehouse import DuckDBWarehouse, WarehouseBusy, refresh_snapshot
from stack.warehouse.load import load

HOLD = (
    "import duckdb, sys, time\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "con.execute('CREATE TABLE IF NOT EXISTS raw.agent_probe (x int)')\n"
    "print('holding', flush=True)\n"
    "time.sleep(60)\n"
)


def test_load_runs_while_the_agent_is_querying(copied_home):
    warehouse = DuckDBWarehouse(copied_home)
    with warehouse.connect() as con:  # a question being answered, as long as it takes
        assert con.execute("SELECT count(*) FROM marts.fct_transactions").fetchall()[0][0] > 0

        summary = load(copied_home)

    assert {t.status for t in summary.tables} <= {"loaded", "unchanged"}


@pytest.fixture
def writer(copied_home):
    """Another process holding the warehouse file read-write (a load, a dbt build)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(copied_home.warehouse_duckdb_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "holding"
    yield process
    process.kill()
    process.wait()


def test_a_held_warehouse_is_answered_from_the_snapshot_with_a_notice(copied_home, writer):
    info = copied_home.stack_home / "agent" / "snapshot.json"
    stale = json.loads(info.read_text())
    stale["stamp"] = [0, 0, 0, 0]  # the warehouse changed since the snapshot
    info.write_text(json.dumps(stale))

    warehouse = DuckDBWarehouse(copied_home)

    assert any("answering from the snapshot" in n for n in warehouse.notices)
    assert warehouse.run("SELECT count(*) FROM marts.dim_merchants", limit=1, timeout=10).rows


def test_a_held_warehouse_without_a_snapshot_says_to_wait(copied_home, writer, tmp_path):
    fresh = copied_home.model_copy(update={"stack_home": tmp_path / "fresh-home"})

    with pytest.raises(WarehouseBusy, match=r"writing the warehouse .* ask again"):
        refresh_snapshot(fresh)
