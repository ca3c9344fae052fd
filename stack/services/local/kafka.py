"""Apache Kafka (KRaft, single node) as a local process.

The broker comes from KAFKA_HOME (a Kafka distribution: nixpkgs, Homebrew, the apache.org
tarball) or, without it, from jars that Maven resolves once into a cache directory laid out
like a distribution (`<cache>/kafka_2.13-<version>/libs`). Its log dir lives under
STACK_HOME, formatted once and kept across restarts.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from stack.errors import ConfigError, ServiceError
from stack.services import process
from stack.settings import Settings

KAFKA_VERSION = "4.1.1"  # keep in step with kafka-pom.xml and compose.yaml's apache/kafka tag
START_TIMEOUT_S = 90
MAVEN_TIMEOUT_S = 900

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = warn
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stack"


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ServiceError(
            "`java` not found: Kafka 4 needs Java 17 or newer (Debian: apt-get install "
            "openjdk-17-jre-headless; or `nix develop`), or use --backend docker"
        )
    return found


def maven_kafka_home() -> Path:
    """A distribution-shaped directory of Maven-resolved jars, fetched the first time."""
    home = cache_dir() / f"kafka_2.13-{KAFKA_VERSION}"
    libs = home / "libs"
    stamp = home / ".complete"
    if stamp.exists():
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "no Kafka found: set KAFKA_HOME to an Apache Kafka 4.x distribution, or install "
            "Maven (`mvn` on PATH) so `stack up` can fetch the broker jars, or use --backend docker"
        )
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(resources.files("stack.services.local").joinpath("kafka-pom.xml").read_text())
    shutil.rmtree(libs, ignore_errors=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        timeout=MAVEN_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise ServiceError(
            f"Maven could not fetch the Kafka {KAFKA_VERSION} jars: {' | '.join(output)} "
            "(is Maven Central reachable? or set KAFKA_HOME)"
        )
    stamp.write_text(KAFKA_VERSION + "\n")
    return home


def new_cluster_id() -> str:
    """What `kafka-storage.sh random-uuid` prints: 16 random bytes, base64url, no padding,
    never starting with '-' (the storage tool would read `-t -xyz` as an option; Kafka's
    Uuid.randomUuid() draws again too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_home / "kafka"
        self.data_dir = self.home / "data"
        self.config_file = self.home / "server.properties"
        self.log4j_file = self.home / "log4j2.properties"
        self.pid_file = self.home / "kafka.pid"
        self.log_file = settings.stack_home / "logs" / "kafka.log"

    # --- where the broker comes from -------------------------------------------------------------
    def kafka_home(self) -> Path:
        if self.settings.kafka_home is not None:
            libs = self.settings.kafka_home / "libs"
            if not any(libs.glob("kafka_2.13-*.jar")) and not any(libs.glob("kafka_*.jar")):
                raise ServiceError(
                    f"KAFKA_HOME={self.settings.kafka_home} has no libs/kafka_2.13-*.jar: point "
                    "it at an Apache Kafka distribution, or unset it to fetch jars with Maven"
                )
            return self.settings.kafka_home
        return maven_kafka_home()

    def version(self) -> str:
        home = self.settings.kafka_home
        if home is None:
            return KAFKA_VERSION
        jars = sorted((home / "libs").glob("kafka-clients-*.jar"))
        return jars[-1].stem.removeprefix("kafka-clients-") if jars else "unknown"

    def _classpath(self) -> str:
        return str(self.kafka_home() / "libs" / "*")

    # --- configuration ---------------------------------------------------------------------------
    def _write_config(self) -> None:
        port = self.settings.kafka_port
        ctrl = self.settings.kafka_controller_port
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by `stack up` from .env on every start; edit .env, not this file.",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{ctrl}",
                    f"listeners=PLAINTEXT://localhost:{port},CONTROLLER://127.0.0.1:{ctrl}",
                    f"advertised.listeners=PLAINTEXT://localhost:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=1",
                    # one node: every internal topic has a single replica
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=10",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # consumers in tests and demos join at once instead of after 3 s
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )
        self.log4j_file.write_text(LOG4J2)

    def _java(self, *args: str) -> list[str]:
        return [
            java_binary(),
            "-Xms256m",
            "-Xmx1g",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            self._classpath(),
            *args,
        ]

    def _format_once(self) -> bool:
        if (self.data_dir / "meta.properties").exists():
            return False
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ServiceError(
                f"{self.data_dir} holds files but no meta.properties (damaged Kafka log dir): "
                "move it away, or run `stack down --wipe` to delete it"
            )
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"formatting the Kafka log dir failed: {result.stdout}{result.stderr}".strip()
            )
        return True

    # --- lifecycle -------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The broker's pid, or None; a stale pid file (crash, reboot) is removed."""
        pid = process.read_pid(self.pid_file)
        if pid is None:
            return None
        if process.pid_alive(pid) and "kafka.Kafka" in process.process_cmdline(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def _check_bootstrap_matches(self) -> None:
        first = self.settings.kafka_bootstrap_servers.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        if host in ("localhost", "127.0.0.1") and int(port) != self.settings.kafka_port:
            raise ConfigError(
                f"KAFKA_BOOTSTRAP_SERVERS={first} but the local broker listens on "
                f"KAFKA_PORT={self.settings.kafka_port}: make them agree (or unset "
                "KAFKA_BOOTSTRAP_SERVERS: it defaults to localhost:KAFKA_PORT)"
            )

    def up(self) -> str:
        if self.is_running():
            return "already running"
        self._check_bootstrap_matches()
        for port, setting in (
            (self.settings.kafka_port, "KAFKA_PORT"),
            (self.settings.kafka_controller_port, "KAFKA_CONTROLLER_PORT"),
        ):
            if process.port_in_use("127.0.0.1", port):
                raise ServiceError(
                    f"port {port} is already in use by another program: stop it, or change "
                    f"{setting} in .env"
                )
        java_binary()
        self.kafka_home()  # fetch jars (first run) before anything else can fail half-way
        self._write_config()
        formatted = self._format_once()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            child = subprocess.Popen(
                self._java("kafka.Kafka", str(self.config_file)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI; Ctrl-C in the shell does not reach it
                cwd=self.home,
            )
        self.pid_file.write_text(f"{child.pid}\n")
        process.wait_until(
            self._answers,
            what=f"Kafka to answer on {self.settings.kafka_bootstrap_servers}",
            timeout=START_TIMEOUT_S,
            interval=0.5,
            alive=lambda: child.poll() is None,
            hint=f"See {self.log_file}.",
        )
        return "formatted and started" if formatted else "started"

    def _answers(self) -> bool:
        from stack.services.probe import kafka_answers

        return kafka_answers(self.settings.kafka_bootstrap_servers, timeout=1.0)

    def down(self) -> str:
        pid = self.pid()
        if pid is None:
            return "not running"
        process.terminate(pid, what="Kafka", timeout=60)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"

    def data_paths(self) -> list[Path]:
        return [self.home, self.log_file]
