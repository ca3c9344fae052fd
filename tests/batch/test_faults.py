"""Faults: the stack failing on one file (a bug) fails that file alone, apart from rejects
(status `error`, exit 4, the traceback in a log file); a worker killed mid-run costs no file;
a killed ingest leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from stack.batch import csv_ingest, pdf_parse, pdf_workers
from stack.batch.generate import generate
from stack.batch.ingest import crash_log, ingest
from stack.settings import PROJECT_ROOT
from tests.batch.files import csv_text, ingest_files, invoice_pdf, result_of, rows, statement_pdf
from tests.batch.helpers import batch_settings
from tests.helpers import query


@pytest.fixture
def a_bug(monkeypatch):
    """The stack fails on any CSV holding CRASH and on every invoice, as a bug would."""
    check_text = csv_ingest.check_text

    def failing_check(data: bytes):
        if b"CRASH" in data:
            raise KeyError("Column 'account_id' in include_columns does not exist")
        return check_text(data)

    def failing_invoice(*args):
        raise ZeroDivisionError("decimal division by zero")

    monkeypatch.setattr(csv_ingest, "check_text", failing_check)
    monkeypatch.setattr(pdf_parse, "_invoice", failing_invoice)


def _files() -> dict[str, bytes | str]:
    crash = rows(5, month="2025-06")
    crash[0][3] = "CRASH"
    return {
        "a.csv": csv_text(rows(20)),
        "b_crash.csv": csv_text(crash),
        "c_statement.pdf": statement_pdf(),
        "d_invoice.pdf": invoice_pdf(),
        "e.csv": csv_text(rows(7, month="2025-07")),
    }


def test_an_internal_error_fails_that_file_only_and_apart_from_rejects(settings, tmp_path, a_bug):
    configured, summary = ingest_files(settings, tmp_path, _files(), workers=1)

    outcomes = {f.path: (f.outcome, f.reason) for f in summary.files}
    assert outcomes == {
        "a.csv": ("loaded", None),
        "b_crash.csv": ("error", "internal_error"),
        "c_statement.pdf": ("loaded", None),
        "d_invoice.pdf": ("error", "internal_error"),
        "e.csv": ("loaded", None),
    }
    crashed = result_of(summary, "b_crash.csv")
    log = crash_log(configured)
    assert crashed.detail.startswith("KeyError: ") and "\n" not in crashed.detail
    assert str(log) in crashed.detail
    assert result_of(summary, "d_invoice.pdf").detail.startswith("ZeroDivisionError: ")
    assert summary.exit_code == 4
    data = summary.to_dict()
    assert (data["exit_code"], data["files"]["error"], data["crash_log"]) == (4, 2, str(log))
    # the tracebacks are in the log, the files where they were, the manifest says error
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == 2
    assert "failing_check" in text and "failing_invoice" in text
    assert (configured.batch_incoming_dir / "b_crash.csv").exists()
    assert not configured.batch_rejected_dir.exists()
    assert query(
        configured, "SELECT path, status, reason FROM ingest_files WHERE status <> 'loaded'"
    ) == [("b_crash.csv", "error", "internal_error"), ("d_invoice.pdf", "error", "internal_error")]
    assert query(configured, "SELECT count(*) FROM batch_transactions") == [(27,)]


def test_a_file_that_hit_an_internal_error_is_tried_again(settings, tmp_path, monkeypatch):
    check_text = csv_ingest.check_text
    monkeypatch.setattr(csv_ingest, "check_text", lambda data: 1 / 0)
    configured, first = ingest_files(settings, tmp_path, {"a.csv": csv_text(rows(4))})
    assert first.exit_code == 4
    monkeypatch.setattr(csv_ingest, "check_text", check_text)  # the bug fixed

    again = ingest(configured)
    assert [(f.outcome, f.rows) for f in again.files] == [("loaded", 4)]
    assert again.exit_code == 0


def test_the_cli_exits_4_with_one_line_per_error_and_no_traceback(
    settings, tmp_path, a_bug, monkeypatch, capfd
):
    from stack import cli
    from stack.settings import get_settings

    configured = batch_settings(settings, tmp_path)
    for name, content in _files().items():
        path = configured.batch_incoming_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    for name, value in configured.as_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["stack", "batch", "ingest", "--workers", "1"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        get_settings.cache_clear()

    assert exited.value.code == 4
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "internal error on b_crash.csv: KeyError" in err
    assert str(crash_log(configured)) in err


def _children_of(pid: int, command: str = "") -> list[int]:
    """The processes whose parent is `pid` (and whose command line holds `command`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and command in line:
                found.append(int(entry.name))
    return found


def _session(sid: int) -> list[int]:
    """Processes of session `sid` (a child started with start_new_session=True)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _state(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_worker_killed_mid_run_costs_no_file(settings, tmp_path):
    configured = batch_settings(settings, tmp_path)
    generate(configured, months="2025-01:2025-02", rows_per_month=10, pdfs_per_month=10, seed=3)
    killed: list[int] = []
    running = threading.Event()

    def kill_a_busy_worker() -> None:  # as the out-of-memory killer would
        deadline = time.monotonic() + 60
        while running.is_set() and time.monotonic() < deadline:
            for server in _children_of(os.getpid(), "multiprocessing.forkserver"):
                for worker in _children_of(server):
                    if _state(worker) == "R":  # parsing a file
                        os.kill(worker, signal.SIGKILL)
                        killed.append(worker)
                        return
            time.sleep(0.01)

    running.set()
    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        summary = ingest(configured, workers=2)
    finally:
        running.clear()
        killer.join()

    assert killed, "no PDF worker was seen parsing"
    assert summary.exit_code == 0, summary.to_dict()
    assert summary.count("loaded") == 2 * (1 + 10)
    assert query(configured, "SELECT count(*) FROM documents") == [(20,)]


def test_a_worker_killed_while_the_files_are_handed_out_costs_no_file(
    settings, tmp_path, monkeypatch
):
    """The pool breaks between two submits (CI once killed a worker there: the ingest raised
    BrokenProcessPool, and left that pool without a shutdown)."""
    configured = batch_settings(settings, tmp_path)
    generate(configured, months="2025-01:2025-02", rows_per_month=10, pdfs_per_month=10, seed=3)
    killed: list[int] = []
    submitted = [0]
    pool = pdf_workers._pool

    class KillsOnThirdSubmit(ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            if submitted[0] == 2 and not killed:
                worker = next(iter(self._processes.values()))
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)
                deadline = time.monotonic() + 30
                while not self._broken and time.monotonic() < deadline:
                    time.sleep(0.01)  # until the pool has seen it
            submitted[0] += 1
            return super().submit(*args, **kwargs)

    def killing_pool(workers, limits):
        made = pool(workers, limits)
        made.__class__ = KillsOnThirdSubmit
        return made

    monkeypatch.setattr(pdf_workers, "_pool", killing_pool)
    summary = ingest(configured, workers=2)

    assert killed
    assert summary.exit_code == 0, summary.to_dict()
    assert summary.count("loaded") == 2 * (1 + 10)
    assert query(configured, "SELECT count(*) FROM documents") == [(20,)]


def test_a_killed_ingest_leaves_no_process_behind(settings, tmp_path):
    configured = batch_settings(settings, tmp_path)
    generate(configured, months="2025-01:2025-03", rows_per_month=10, pdfs_per_month=30, seed=5)
    run = subprocess.Popen(
        [sys.executable, "-m", "stack", "batch", "ingest", "--workers", "2"],
        env={**os.environ, **configured.as_env()},
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_session(run.pid)) < 4:  # the ingest, the fork server, workers, tracker
            assert run.poll() is None, "the ingest ended before it was killed"
            assert time.monotonic() < deadline, _session(run.pid)
            time.sleep(0.1)
        time.sleep(1.0)  # mid-run: the workers are parsing
        assert run.poll() is None
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 10
        while _session(run.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session(run.pid) == []
    finally:
        for pid in _session(run.pid):  # whatever the ingest left: this test started it
            os.kill(pid, signal.SIGKILL)
