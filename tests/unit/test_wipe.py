"""`stack down --wipe` deletes everything the stack keeps, whatever the backend: the backend's
data and the stack's own files (the DuckDB warehouse, the window totals' state)."""

from __future__ import annotations

import pytest

import stack.services
from stack.orchestration import lifecycle
from stack.services import stop_services
from stack.settings import load_settings


class FakeBackend:
    def __init__(self, name: str, paths: list) -> None:
        self.name = name
        self.paths = paths
        self.wiped = False

    def down(self, services=None):
        yield "postgres", "stopped"

    def data_paths(self) -> list:
        return self.paths

    def wipe(self) -> list[str]:
        self.wiped = True
        return [str(path) for path in self.paths]


@pytest.mark.parametrize("name", stack.services.BACKEND_NAMES)
def test_wipe_deletes_the_window_state_and_the_warehouse_for_every_backend(
    name, tmp_path, monkeypatch
):
    settings = load_settings(stack_home=tmp_path, warehouse_duckdb_path=tmp_path / "w.duckdb")
    state = settings.quix_state_dir / "sink-windows" / "default"
    state.mkdir(parents=True)
    (state / "CURRENT").write_text("rocksdb")
    settings.warehouse_duckdb_path.write_text("duckdb")
    backend = FakeBackend(name, [f"{name} data"])
    monkeypatch.setattr(stack.services, "get_backend", lambda _settings: backend)
    # Airflow is not what this is about (and stopping it through compose needs Docker).
    monkeypatch.setattr(lifecycle, "stop_airflow", lambda _settings, _backend: None)

    report = stop_services(settings, wipe=True)

    assert backend.wiped
    assert not settings.quix_state_dir.exists()
    assert not settings.warehouse_duckdb_path.exists()
    assert str(settings.quix_state_dir) in report.deleted
    assert f"{name} data" in report.deleted
