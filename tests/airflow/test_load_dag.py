"""`load_postgres_to_snowflake` run for real by `dag.test()`: the stack's PostgreSQL source
tables into DuckDB (and Snowflake through fakesnow), dbt build, asset events; a second run
loads nothing; faults retry or fail at once as the README says."""

from __future__ import annotations

from datetime import timedelta

import duckdb

import stack.jobs
from stack.db import connect
from stack.services.ephemeral import ephemeral_services
from stack.tables import SOURCE_NAMES
from tests.airflow.runs import run_dag
from tests.warehouse import sources
from tests.warehouse.helpers import (
    assert_duckdb_equals_source,
    assert_snowflake_equals_source,
    duckdb_state,
)
from tests.warehouse.snowflake_double import point_at_fakesnow

DAG = "load_postgres_to_snowflake"


def test_load_then_dbt_build_on_duckdb_then_a_rerun_loads_nothing(dagbag, settings, task_env):
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)
    task_env(settings)

    first = run_dag(dagbag, DAG)

    assert first.state == "success", first.tasks
    assert first.tasks == {"load": ("success", 1), "dbt_build": ("success", 1)}
    loaded = first.xcom["load"]
    assert loaded["target"] == "duckdb"
    assert_duckdb_equals_source(settings, list(SOURCE_NAMES))
    with connect(settings) as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in SOURCE_NAMES
        }
    assert {t["table"]: t["rows"] for t in loaded["tables"]} == counts
    built = first.xcom["dbt_build"]
    assert built["success"] and set(built["counts"]["test"]) == {"pass"}
    # one asset event per raw table and per mart, with its rows
    assert {n: e["rows"] for n, e in first.assets.items() if n.startswith("raw.")} == {
        f"raw.{t}": counts[t] for t in SOURCE_NAMES
    }
    with duckdb.connect(str(settings.warehouse_duckdb_path), read_only=True) as con:
        facts = con.execute("SELECT count(*) FROM marts.fct_transactions").fetchall()[0][0]
    assert first.assets["marts.fct_transactions"]["rows"] == facts > 0
    assert {"marts.dim_accounts", "marts.mart_monthly_spend"} <= set(first.assets)

    second = run_dag(dagbag, DAG)

    assert second.state == "success"
    assert second.xcom["load"]["rows"] == 0
    assert {t["status"] for t in second.xcom["load"]["tables"]} == {"unchanged"}
    assert all(e["rows"] == 0 for n, e in second.assets.items() if n.startswith("raw."))


def test_snowflake_target_through_fakesnow(dagbag, settings, task_env, fakesnow_port):
    snowflake = point_at_fakesnow(settings, fakesnow_port)
    with connect(snowflake, autocommit=True) as conn:
        sources.seed(conn)
        sources.add_readable_dead_letters(conn)
    # the target comes from the run's Param; the account from the stack_snowflake connection
    task_env(snowflake.model_copy(update={"warehouse_target": "duckdb"}))

    run = run_dag(dagbag, DAG, {"target": "snowflake"})

    assert run.state == "success", run.tasks
    assert run.xcom["load"]["target"] == "snowflake"
    assert_snowflake_equals_source(snowflake, list(SOURCE_NAMES))
    assert run.xcom["dbt_build"]["target"] == "snowflake"
    assert run.assets["marts.fct_transactions"]["rows"] == 370


def test_postgres_stopped_during_the_load_fails_after_retries_and_the_next_run_is_exact(
    dagbag, task_env, monkeypatch, tmp_path, capfd
):
    # A PostgreSQL of its own for the sources: Airflow's metadata stays on the session's.
    with ephemeral_services(prefix="stack-fault-", services=["postgres"]) as (source, backend):
        source = source.model_copy(update={"warehouse_duckdb_path": tmp_path / "wh.duckdb"})
        with connect(source, autocommit=True) as conn:
            sources.seed(conn)
        task_env(source)
        assert run_dag(dagbag, DAG).state == "success"
        watermarks = duckdb_state(source.warehouse_duckdb_path)
        with connect(source, autocommit=True) as conn:  # updates and inserts (no deletes)
            conn.execute(
                "UPDATE transactions_sink SET amount = amount + 1, version = version + 1,"
                " updated_at = clock_timestamp() WHERE kafka_offset % 7 = 0"
            )
            sources.add_realtime(conn, 301, 350)

        real_load = stack.jobs.load_warehouse

        def stop_postgres_then_load(settings, **options):
            backend.postgres.down()
            return real_load(settings, **options)

        monkeypatch.setattr(stack.jobs, "load_warehouse", stop_postgres_then_load)
        capfd.readouterr()
        failed = run_dag(
            dagbag,
            DAG,
            retries=2,
            retry_delay=timedelta(seconds=1),
            retry_exponential_backoff=False,
        )

        assert failed.state == "failed"
        assert failed.tasks == {"load": ("failed", 3), "dbt_build": ("upstream_failed", 0)}
        reason = f"cannot connect to PostgreSQL at localhost:{source.postgres_port}"
        logged = capfd.readouterr()
        assert f"StackTaskError: {reason}" in logged.out + logged.err
        assert duckdb_state(source.warehouse_duckdb_path) == watermarks

        monkeypatch.setattr(stack.jobs, "load_warehouse", real_load)
        backend.postgres.up()
        again = run_dag(dagbag, DAG)

        assert again.state == "success", again.tasks
        assert_duckdb_equals_source(source, list(SOURCE_NAMES))
        assert again.xcom["load"]["rows"] > 0


def test_a_bad_setting_fails_at_once_without_retry(dagbag, settings, task_env):
    task_env(settings)

    run = run_dag(dagbag, DAG, {"target": "oracle"})

    assert run.state == "failed"
    assert run.tasks["load"] == ("failed", 1)  # retries=3, none used
    assert run.tasks["dbt_build"][0] == "upstream_failed"
