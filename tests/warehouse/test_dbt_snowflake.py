"""The same dbt project on the snowflake target, for real against fakesnow's server:
dbt-snowflake, the connector, incremental MERGE (the project's merge macro) and the
adapter-dispatched macros all run over Snowflake's protocol."""

from __future__ import annotations

from decimal import Decimal

from stack.db import connect
from stack.warehouse.load import load
from stack.warehouse.transform import transform
from tests.warehouse import sources
from tests.warehouse.helpers import DBT_MODELS, snowflake_query
from tests.warehouse.helpers import DBT_TIMEOUT as TIMEOUT


def test_dbt_build_and_incremental_run_on_snowflake(snowflake_settings, tmp_path):
    settings = snowflake_settings
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)
        sources.add_readable_dead_letters(conn)
    load(settings)

    first = transform(settings, timeout=TIMEOUT, target_path=tmp_path)

    assert first.success and first.target == "snowflake"
    assert first.counts["model"] == {"success": DBT_MODELS}
    assert set(first.counts["test"]) == {"pass"}
    assert first.counts["unit_test"] == {"pass": 5}  # Snowflake SQL runs them too
    db = settings.snowflake_database
    counts = dict(
        snowflake_query(
            settings, f"SELECT source, count(*) FROM {db}.MARTS.FCT_TRANSACTIONS GROUP BY 1"
        )
    )
    assert counts == {"realtime": 300, "batch": 70}
    letters = snowflake_query(
        settings,
        f"SELECT kafka_offset, claimed_amount FROM {db}.STAGING.STG_REALTIME__DEAD_LETTERS"
        " WHERE kafka_offset > 100 ORDER BY 1",
    )
    assert [
        (offset, None if amount is None else Decimal(str(amount))) for offset, amount in letters
    ] == [(101, Decimal("12.5")), (102, None), (103, None)]

    with connect(settings, autocommit=True) as conn:
        sources.change(conn)
    load(settings)
    second = transform(settings, timeout=TIMEOUT, target_path=tmp_path)

    assert second.success, [(r.name, r.message) for r in second.failures]
    counts = dict(
        snowflake_query(
            settings, f"SELECT source, count(*) FROM {db}.MARTS.FCT_TRANSACTIONS GROUP BY 1"
        )
    )
    assert counts == {"realtime": 350, "batch": 35 + 30 + 20}
    amount = snowflake_query(
        settings,
        f"SELECT amount FROM {db}.MARTS.FCT_TRANSACTIONS WHERE "
        f"transaction_id = '{sources.realtime_id(10)}'",
    )
    with connect(settings) as conn:
        expected = conn.execute(
            "SELECT amount FROM transactions_sink WHERE kafka_offset = 10"
        ).fetchall()[0][0]
    assert Decimal(str(amount[0][0])) == expected
