"""Static checks of the files no engine runs here: compose.yaml, the devcontainer, the flake,
the justfile and `.env.example`. They need no Docker and no Nix."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import compose
import json5
import jsonschema
import pytest
import yaml

from stack.settings import PROJECT_ROOT, Settings

COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
BIN = Path(sys.executable).parent


def run(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
    )


def test_compose_file_is_valid_for_compose_v2():
    # The binary itself: the console-script wrapper always exits 0.
    for profile in ([], ["--profile", "dev"], ["--profile", "agent"], ["--profile", "airflow"]):
        result = run(COMPOSE_BINARY, "-f", "compose.yaml", *profile, "config", "-q")
        assert result.returncode == 0, result.stderr


def test_compose_file_matches_the_compose_schema():
    result = run(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_pins_every_image_and_keeps_named_volumes():
    spec = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
    images = {name: service.get("image", "") for name, service in spec["services"].items()}
    for name, image in images.items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: image {image!r} has no tag"
        assert not image.endswith(":latest"), f"{name}: pin a version, not latest"
    assert images["postgres"] == "postgres:17.4"
    assert images["kafka"].startswith("apache/kafka:4.")
    assert spec["services"]["ollama"]["profiles"] == ["agent"]  # the agent's local model
    assert "postgres_data:/var/lib/postgresql/data" in spec["services"]["postgres"]["volumes"]
    assert set(spec["volumes"]) >= {"postgres_data", "kafka_data"}
    for name in ("postgres", "kafka"):
        assert "healthcheck" in spec["services"][name], f"{name} has no healthcheck"
    kafka_env = spec["services"]["kafka"]["environment"]
    assert "zookeeper" not in json.dumps(spec).lower()
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_compose_interpolates_ports_and_credentials_from_env():
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTGRES_PORT": "15432",
        "KAFKA_PORT": "19999",
        "POSTGRES_PASSWORD": "from-env",
    }
    result = run(COMPOSE_BINARY, "-f", "compose.yaml", "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert spec["services"]["postgres"]["ports"][0]["published"] == "15432"
    assert spec["services"]["kafka"]["ports"][0]["published"] == "19999"
    assert (
        "localhost:19999" in spec["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )
    assert spec["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "from-env"


AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


def _airflow_profile(env: dict[str, str]) -> dict:
    result = run(
        COMPOSE_BINARY,
        "-f",
        "compose.yaml",
        "--profile",
        "airflow",
        "config",
        "--format",
        "json",
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def test_compose_airflow_profile_official_image_local_executor_healthchecks():
    dockerfile = (PROJECT_ROOT / "airflow/Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11$", dockerfile, re.M)
    assert "uv pip install --no-cache -r /opt/stack/pylock.airflow.toml" in dockerfile
    services = _airflow_profile({})
    assert set(services) >= AIRFLOW_SERVICES
    assert not AIRFLOW_SERVICES & set(_default_services()), "Airflow must stay in its profile"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "airflow/Dockerfile"
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
        assert "AIRFLOW_CONN_STACK_POSTGRES" in env
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service["depends_on"]["airflow-init"]["condition"] == (
                "service_completed_successfully"
            )
    assert services["airflow-init"]["command"] == ["python", "-m", "stack", "airflow", "init"]
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def _default_services() -> dict:
    result = run(COMPOSE_BINARY, "-f", "compose.yaml", "config", "--format", "json")
    return json.loads(result.stdout)["services"]


def test_compose_airflow_takes_port_secret_and_sizing_from_env_like_the_local_processes():
    from stack.orchestration.environment import airflow_env

    env = {
        "AIRFLOW_PORT": "18080",
        "AIRFLOW_JWT_SECRET": "one-secret",
        "AIRFLOW_PARALLELISM": "3",
        "POSTGRES_PASSWORD": "pw",
    }
    services = _airflow_profile(env)
    assert services["airflow-apiserver"]["ports"][0]["published"] == "18080"
    secrets = {
        services[name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES
    }
    assert secrets == {"one-secret"}  # one secret shared by every component
    # the same knobs, the same values as the local processes get from the same settings
    local = airflow_env(
        Settings(_env_file=PROJECT_ROOT / ".env.example", **{k.lower(): v for k, v in env.items()})
    )
    compose_env = services["airflow-scheduler"]["environment"]
    for key in (
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT",
        "AIRFLOW__API__WORKERS",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__BASE_URL",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW__CORE__EXECUTOR",
    ):
        assert str(compose_env[key]) == local[key], key
    conn = json.loads(compose_env["AIRFLOW_CONN_STACK_POSTGRES"])
    assert conn["password"] == "pw" and conn["host"] == "postgres"


def test_devcontainer_matches_its_schema_and_compose():
    config = json5.loads((PROJECT_ROOT / ".devcontainer/devcontainer.json").read_text())
    schema = json.loads((PROJECT_ROOT / ".devcontainer/devcontainer.schema.json").read_text())
    jsonschema.validate(config, schema)
    compose_file = (PROJECT_ROOT / ".devcontainer" / config["dockerComposeFile"][0]).resolve()
    services = yaml.safe_load(compose_file.read_text())["services"]
    assert config["service"] in services
    assert set(config.get("runServices", [])) <= set(services)
    dockerfile = (PROJECT_ROOT / ".devcontainer/Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", base), f"devcontainer base image {base} not pinned"


def test_flake_parses_and_its_lock_pins_every_input():
    import tree_sitter as ts
    import tree_sitter_nix

    parser = ts.Parser(ts.Language(tree_sitter_nix.language()))
    tree = parser.parse((PROJECT_ROOT / "flake.nix").read_bytes())
    assert not tree.root_node.has_error, "flake.nix has a syntax error"
    lock = json.loads((PROJECT_ROOT / "flake.lock").read_text())
    inputs = lock["nodes"][lock["root"]]["inputs"]
    assert "nixpkgs" in inputs
    for name in inputs:
        locked = lock["nodes"][inputs[name]]["locked"]
        assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"]) and locked["narHash"].startswith(
            "sha256-"
        )
    flake = (PROJECT_ROOT / "flake.nix").read_text()
    for package in ("python311", "hatch", "uv", "just", "postgresql_17", "apacheKafka_4_1"):
        assert f"pkgs.{package}" in flake


def test_justfile_is_formatted_and_lists_the_recipes():
    just = shutil.which("just", path=str(BIN)) or shutil.which("just")
    assert just, "just not installed (rust-just is a test dependency)"
    assert run(just, "--fmt", "--check", "--unstable").returncode == 0, (
        "run `just --fmt --unstable`"
    )
    listed = run(just, "--summary").stdout.split()
    for recipe in ("up", "down", "logs", "status", "test", "lint", "fmt", "demo", "ingest"):
        assert recipe in listed


@pytest.mark.parametrize("recipe", ["up", "down", "status", "test"])
def test_just_recipes_are_one_line_over_stack_or_hatch(recipe):
    just = shutil.which("just", path=str(BIN)) or shutil.which("just")
    env = {k: v for k, v in os.environ.items() if k != "STACK_RUN"}  # as outside nix/devcontainer
    shown = run(just, "--dry-run", recipe, env=env).stderr.strip()
    assert shown.startswith("hatch run "), shown


def test_env_example_documents_every_setting_with_a_loadable_default(tmp_path):
    example = PROJECT_ROOT / ".env.example"
    documented = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    fields = {name.upper() for name in Settings.model_fields}
    assert documented == fields, (
        f"missing from .env.example: {sorted(fields - documented)}; "
        f"unknown in .env.example: {sorted(documented - fields)}"
    )
    settings = Settings(_env_file=example)
    assert settings.kafka_bootstrap_servers == f"localhost:{settings.kafka_port}"


def test_env_file_is_ignored_by_git():
    result = run("git", "check-ignore", "-q", ".env")
    assert result.returncode == 0, ".env must be gitignored"
