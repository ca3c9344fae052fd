"""The docker backend: the same services from compose.yaml (what most users run)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

from stack.errors import ServiceError
from stack.settings import PROJECT_ROOT, Settings

COMPOSE_FILE = PROJECT_ROOT / "compose.yaml"
SERVICES = ("postgres", "kafka")
VOLUMES = ("postgres_data", "kafka_data")


def engine_answers(timeout: float = 5.0) -> bool:
    """True when a Docker engine answers and `docker compose` (v2) is available."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        for args in (["info"], ["compose", "version"]):
            if subprocess.run([docker, *args], capture_output=True, timeout=timeout).returncode:
                return False
    except subprocess.TimeoutExpired:
        return False
    return True


class DockerBackend:
    name = "docker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _compose(self, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
        if not engine_answers():
            raise ServiceError(
                "no Docker engine answers (`docker info` failed): start Docker, "
                "or use --backend local"
            )
        command = [
            "docker",
            "compose",
            "--project-directory",
            str(PROJECT_ROOT),
            "-f",
            str(COMPOSE_FILE),
            *args,
        ]
        result = subprocess.run(command, capture_output=capture, text=True, check=False)
        if result.returncode != 0:
            message = (result.stderr or "").strip().splitlines()[-1:] if capture else []
            raise ServiceError(f"`docker compose {' '.join(args)}` failed: {' '.join(message)}")
        return result

    def up(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        names = services or list(SERVICES)
        self._compose("up", "-d", "--wait", "--wait-timeout", "120", *names)
        for name in names:
            yield name, "up (compose)"

    def down(self, services: list[str] | None = None) -> Iterator[tuple[str, str]]:
        if services:
            self._compose("stop", *services)
        else:
            self._compose("down")
        for name in services or SERVICES:
            yield name, "stopped"

    def restart(self, service: str) -> None:
        self._compose("restart", service)
        self._compose("up", "-d", "--wait", service)

    def versions(self) -> dict[str, str]:
        from stack.services.local.kafka import KAFKA_VERSION

        return {"postgres": "17.4", "kafka": KAFKA_VERSION}

    def is_running(self) -> bool:
        result = self._compose("ps", "--status", "running", "-q")
        return bool(result.stdout.strip())

    def wipe(self) -> list[str]:
        self._compose("down", "-v")
        return [f"docker volume {name}" for name in VOLUMES]

    def data_paths(self) -> list[str]:
        return [f"docker volume {name}" for name in VOLUMES]

    def logs(self, service: str | None, follow: bool) -> int:
        args = [
            "logs",
            "--tail",
            "100",
            *(["-f"] if follow else []),
            *([service] if service else []),
        ]
        return self._compose(*args, capture=False).returncode
