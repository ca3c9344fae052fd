"""A fakesnow server (Snowflake's wire protocol over DuckDB) in a child process, and settings
that point the snowflake target at it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from stack.services.ephemeral import free_port


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class FakesnowServer:
    """fakesnow's server in a child process; with `data_dir`, its databases are DuckDB files
    there and survive a kill and restart on the same port."""

    def __init__(self, log: Path, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.log = log
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = [sys.executable, str(Path(__file__).with_name("fakesnow_server.py")), str(self.port)]
        if self.data_dir is not None:
            args.append(str(self.data_dir))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"fakesnow did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """Gone at once, like a crashed server."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def point_at_fakesnow(settings, port: int):
    return settings.model_copy(
        update={
            "warehouse_target": "snowflake",
            "snowflake_account": "fakesnow",
            "snowflake_user": "stack",
            "snowflake_password": SecretStr("fakesnow-password"),
            "snowflake_host": "127.0.0.1",
            "snowflake_port": port,
            "snowflake_protocol": "http",
            "snowflake_database": f"STACK_{uuid.uuid4().hex[:8].upper()}",
            "snowflake_schema": "RAW",
            "snowflake_timeout_seconds": 60,
        }
    )
