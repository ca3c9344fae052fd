"""PostgreSQL as a local process: initdb once, pg_ctl start/stop, data kept under STACK_HOME."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

from stack.errors import ServiceError
from stack.services import process
from stack.settings import Settings

START_TIMEOUT_S = 60


def find_pg_binary(name: str) -> str:
    """`name` from PATH, else from Debian's versioned directories (not on PATH everywhere)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(re.search(r"/postgresql/(\d+)/", path).group(1)),  # type: ignore[union-attr]
    )
    if candidates:
        return candidates[-1]
    raise ServiceError(
        f"`{name}` not found: install PostgreSQL server binaries (Debian: apt-get install "
        "postgresql; macOS: brew install postgresql@17; or use `nix develop`), or use "
        "--backend docker"
    )


class LocalPostgres:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_home / "postgres"
        self.data_dir = self.home / "data"
        self.log_file = settings.stack_home / "logs" / "postgres.log"

    # --- helpers -------------------------------------------------------------------------------
    def _run(
        self, *args: str, timeout: float = START_TIMEOUT_S + 10
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*process.demote_prefix(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",  # the demoted user may not be able to read the current directory
        )

    def binary_version(self) -> str:
        out = subprocess.run(
            [find_pg_binary("postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout
        match = re.search(r"(\d+(?:\.\d+)?)", out)
        return match.group(1) if match else "unknown"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return (
            self._run(find_pg_binary("pg_ctl"), "status", "-D", str(self.data_dir)).returncode == 0
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return " | ".join(tail)

    # --- lifecycle -----------------------------------------------------------------------------
    def _check_data_dir(self) -> None:
        if not self.data_dir.exists():
            return
        version_file = self.data_dir / "PG_VERSION"
        if not version_file.is_file():
            raise ServiceError(
                f"{self.data_dir} exists but is not a PostgreSQL data directory (damaged or "
                "half-initialised). Move it away, or run `stack down --wipe` to delete it."
            )
        data_major = version_file.read_text().strip()
        binary_major = self.binary_version().split(".")[0]
        if data_major != binary_major:
            raise ServiceError(
                f"{self.data_dir} was made by PostgreSQL {data_major} but the binaries on PATH "
                f"are PostgreSQL {binary_major}: put PostgreSQL {data_major} on PATH, or run "
                "`stack down --wipe` to start over with an empty database."
            )
        pid_file = self.data_dir / "postmaster.pid"
        pid = process.read_pid(pid_file)
        if pid is not None and not process.pid_alive(pid):
            pid_file.unlink()  # left by a crash or a killed machine; PostgreSQL is not running

    def _initdb(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        process.hand_over(self.home)
        pwfile = self.home / ".initdb-password"
        pwfile.write_text(self.settings.postgres_password.get_secret_value() + "\n")
        pwfile.chmod(0o600)
        process.hand_over(pwfile)
        try:
            result = self._run(
                find_pg_binary("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.settings.postgres_user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ServiceError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def up(self) -> str:
        """Start the server (initialising the data dir the first time). Returns what it did."""
        process.check_reachable_by_unprivileged(self.settings.stack_home, "STACK_HOME")
        find_pg_binary("pg_ctl")
        self._check_data_dir()
        if self.is_running():
            return "already running"
        port = self.settings.postgres_port
        if process.port_in_use("127.0.0.1", port):
            raise ServiceError(
                f"port {port} is already in use by another program: stop it, or set "
                "POSTGRES_PORT in .env to a free port"
            )
        created = not self.data_dir.exists()
        if created:
            self._initdb()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        process.hand_over(self.log_file)
        options = f"-c listen_addresses=localhost -p {port} -c unix_socket_directories=''"
        result = self._run(
            find_pg_binary("pg_ctl"),
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
        )
        if result.returncode != 0:
            raise ServiceError(
                f"PostgreSQL did not start within {START_TIMEOUT_S} s: "
                f"{result.stderr.strip() or result.stdout.strip()} (log: {self._log_tail()})"
            )
        self._ensure_database()
        return "initialised and started" if created else "started"

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        dbname = self.settings.postgres_db
        with psycopg.connect(self.settings.postgres_conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchall()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def down(self) -> str:
        if not self.is_running():
            return "not running"
        result = self._run(
            find_pg_binary("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"
        )
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return "stopped"

    def data_paths(self) -> list[Path]:
        return [self.home, self.log_file]

    def pid(self) -> int | None:
        return process.read_pid(self.data_dir / "postmaster.pid")
