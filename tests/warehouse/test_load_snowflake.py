"""`stack load --target snowflake` for real against fakesnow's server: the connector, PUT,
COPY INTO, MERGE and the watermark table all go over Snowflake's wire protocol."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from stack.db import connect
from stack.errors import ConfigError, ServiceError
from stack.tables import SOURCE_NAMES
from stack.warehouse.load import load
from tests.warehouse import sources
from tests.warehouse.helpers import (
    assert_snowflake_equals_source,
    compare_snowflake,
    snowflake_query,
    source_table,
)
from tests.warehouse.snowflake_double import FakesnowServer, point_at_fakesnow


def _state(settings) -> dict:
    rows = snowflake_query(settings, "SELECT TABLE_NAME, CURSOR_VALUE, ROWS FROM _LOAD_STATE")
    return {name: (value, count) for name, value, count in rows}


def test_snowflake_load_merge_and_full_refresh(snowflake_settings):
    settings = snowflake_settings
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)

    first = load(settings)

    assert first.target == "snowflake"
    assert_snowflake_equals_source(settings, list(SOURCE_NAMES))
    assert {t: c for t, (_, c) in _state(settings).items()} == {
        t: len(source_table(settings, t)[1]) for t in SOURCE_NAMES
    }

    with connect(settings, autocommit=True) as conn:
        sources.change(conn)
    second = load(settings)

    rows = {item.table: item.rows for item in second.tables}
    assert rows["transactions_dlq"] == 2 and rows["batch_transactions"] == 55
    assert all(value == second.upper_bound for value, _ in _state(settings).values())
    # Every source row is there with its newest values (the replaced file's deleted rows stay
    # in raw until a full refresh; staging filters them).
    unchanged = [
        t
        for t in SOURCE_NAMES
        if t not in ("batch_transactions", "ingest_rejects", "documents", "document_line_items")
    ]
    assert_snowflake_equals_source(settings, unchanged)

    nothing = load(settings)
    assert nothing.rows == 0

    refreshed = load(settings, full_refresh=True)

    assert all(item.watermark_before is None for item in refreshed.tables)
    assert_snowflake_equals_source(settings, list(SOURCE_NAMES))


def test_snowflake_cli_json(snowflake_settings, stack_cli):
    settings = snowflake_settings
    with connect(settings, autocommit=True) as conn:
        sources.create_sources(conn)
        sources.add_realtime(conn, 1, 25)
    env = {k: v for k, v in settings.as_env().items() if k.startswith("SNOWFLAKE_")}
    result = stack_cli(
        "load", "--target", "snowflake", "--json", "--tables", "transactions_sink", extra_env=env
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["target"] == "snowflake" and summary["rows"] == 25
    assert "fakesnow-password" not in result.stdout + result.stderr
    assert_snowflake_equals_source(settings, ["transactions_sink"])


def test_snowflake_without_credentials_is_a_config_error(settings, stack_cli):
    with pytest.raises(ConfigError, match="SNOWFLAKE_ACCOUNT"):
        load(settings.model_copy(update={"snowflake_account": None}), target="snowflake")
    result = stack_cli("load", "--target", "snowflake", extra_env={"SNOWFLAKE_ACCOUNT": ""})
    assert result.returncode == 2
    assert "SNOWFLAKE_ACCOUNT" in result.stderr and "Traceback" not in result.stderr


# The connector's own query-timeout thread tries to abort the query on the dead server and
# dies with a connection error: expected here, and not ours to handle.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_snowflake_stopped_mid_load_keeps_watermark_and_rerun_is_exact(settings, tmp_path):
    """The Snowflake side dies while the load is inside batch_transactions: what committed
    before stays, that table's watermark does not move, and the rerun is exact."""
    server = FakesnowServer(tmp_path / "fakesnow.log", data_dir=tmp_path / "databases")
    server.data_dir.mkdir()
    server.start()
    try:
        settings = point_at_fakesnow(settings, server.port).model_copy(
            update={"snowflake_timeout_seconds": 5}
        )
        with connect(settings, autocommit=True) as conn:
            sources.seed(conn)
        first = load(settings)
        with connect(settings, autocommit=True) as conn:
            sources.change(conn)

        def stop_target(event):
            if event.item == "batch_transactions" and event.kind == "progress":
                server.kill()

        with pytest.raises(ServiceError, match="Snowflake failed"):
            load(settings, on_event=stop_target)

        server.start()
        state = _state(settings)
        order = list(SOURCE_NAMES)
        crashed = order.index("batch_transactions")
        for table in order[:crashed]:
            assert state[table][0] > first.upper_bound, table
        for table in order[crashed:]:
            assert state[table][0] == first.upper_bound, table

        rerun = load(settings)

        assert {i.table: i.watermark_before for i in rerun.tables}[
            "batch_transactions"
        ] == first.upper_bound
        for table in SOURCE_NAMES:
            problems, _ = compare_snowflake(settings, table)
            assert not problems, "\n".join(problems[:5])
    finally:
        server.stop()


def test_snowflake_key_pair_authentication(snowflake_settings, tmp_path):
    """The key-pair route: an encrypted PKCS#8 key and its passphrase, no password (fakesnow
    accepts any credentials: this checks what the connector is given and that it uses it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa_key.p8"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-passphrase"),
        )
    )
    settings = snowflake_settings.model_copy(
        update={
            "snowflake_password": None,
            "snowflake_private_key_path": path,
            "snowflake_private_key_passphrase": SecretStr("key-passphrase"),
        }
    )
    with connect(settings, autocommit=True) as conn:
        sources.create_sources(conn)
        sources.add_dlq(conn, 3)

    assert load(settings, tables=["transactions_dlq"]).rows == 3

    wrong = settings.model_copy(update={"snowflake_private_key_passphrase": SecretStr("not-it")})
    with pytest.raises(ConfigError, match="SNOWFLAKE_PRIVATE_KEY_PATH: cannot read") as failed:
        load(wrong, tables=["transactions_dlq"])
    assert "not-it" not in str(failed.value)
    missing = settings.model_copy(update={"snowflake_private_key_path": tmp_path / "nope.p8"})
    with pytest.raises(ConfigError, match="SNOWFLAKE_PRIVATE_KEY_PATH: no such file"):
        load(missing, tables=["transactions_dlq"])
