"""The docker backend for real: compose.yaml's services under pytest-docker, and `stack up
--backend docker`. Skipped, with the reason, when no Docker engine answers (as on CI here)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, Producer

from stack.services.docker import engine_answers
from stack.services.ephemeral import free_port
from stack.settings import PROJECT_ROOT, load_settings
from tests.helpers import run_stack

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        not engine_answers(),
        reason="no Docker engine answers (`docker info` "
        "failed): the docker backend is checked statically instead",
    ),
]

PORTS = {"POSTGRES_PORT": str(free_port()), "KAFKA_PORT": str(free_port())}


@pytest.fixture(scope="module")
def docker_compose_file():
    return str(PROJECT_ROOT / "compose.yaml")


@pytest.fixture(scope="module")
def docker_compose_project_name():
    return f"stack-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def docker_setup():
    os.environ.update(PORTS)  # compose interpolates the published ports from the environment
    return ["up -d --wait postgres kafka"]


@pytest.fixture(scope="module")
def docker_cleanup():
    return ["down -v"]


@pytest.fixture(scope="module")
def compose_settings(docker_services):
    return load_settings(
        stack_backend="docker",
        postgres_port=int(PORTS["POSTGRES_PORT"]),
        kafka_port=int(PORTS["KAFKA_PORT"]),
        kafka_bootstrap_servers="",
    )


def test_postgres_rows_survive_a_container_restart(compose_settings, docker_compose_project_name):
    with psycopg.connect(compose_settings.postgres_conninfo()) as conn:
        conn.execute("CREATE TABLE smoke (id int PRIMARY KEY)")
        conn.execute("INSERT INTO smoke VALUES (1), (2)")
    subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            docker_compose_project_name,
            "-f",
            str(PROJECT_ROOT / "compose.yaml"),
            "restart",
            "postgres",
        ],
        check=True,
    )
    subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            docker_compose_project_name,
            "-f",
            str(PROJECT_ROOT / "compose.yaml"),
            "up",
            "-d",
            "--wait",
            "postgres",
        ],
        check=True,
    )
    with psycopg.connect(compose_settings.postgres_conninfo()) as conn:
        assert conn.execute("SELECT id FROM smoke ORDER BY id").fetchall() == [(1,), (2,)]


def test_kafka_is_reachable_from_the_host(compose_settings):
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": compose_settings.kafka_bootstrap_servers})
    producer.produce(topic, b"hello")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": compose_settings.kafka_bootstrap_servers,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        values = []
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append(message.value())
                break
    finally:
        consumer.close()
    assert values == [b"hello"]


def test_stack_status_reports_the_compose_services_healthy(compose_settings):
    result = run_stack(compose_settings, "status", "--json")
    report = json.loads(result.stdout)
    assert report["healthy"], report
