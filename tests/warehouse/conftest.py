"""Warehouse fixtures: a fakesnow server for the snowflake target, started once per session
on a free port; a database shared by a module's tests."""

from __future__ import annotations

import pytest

from stack.services.ephemeral import scratch_database
from tests.warehouse.snowflake_double import FakesnowServer, point_at_fakesnow


@pytest.fixture(scope="session")
def fakesnow_port(tmp_path_factory) -> int:
    """One in-memory fakesnow server for the session; each test uses its own database."""
    server = FakesnowServer(tmp_path_factory.mktemp("fakesnow") / "server.log")
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@pytest.fixture
def snowflake_settings(settings, fakesnow_port):
    """The test's settings pointed at fakesnow, with a database of its own."""
    return point_at_fakesnow(settings, fakesnow_port)


@pytest.fixture(scope="module")
def module_settings(postgres, tmp_path_factory):
    """Like `settings`, for a whole module: tests that share one expensive dbt build."""
    home = tmp_path_factory.mktemp("warehouse")
    with scratch_database(
        postgres.settings, warehouse_duckdb_path=home / "warehouse.duckdb"
    ) as configured:
        yield configured
