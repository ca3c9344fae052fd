# The stack's tasks: each is one line over `stack` (the package's CLI) or hatch.
# `just` lists them. Run inside `nix develop` or the devcontainer, or with hatch installed.

set dotenv-load := false

# Environments are built with their bytecode compiled: where PYTHONDONTWRITEBYTECODE is set,
# every process would otherwise compile what it imports again (~0.8 s for each consumer).
export UV_COMPILE_BYTECODE := "1"

# How commands run: through hatch's project env by default; inside `nix develop` and the
# devcontainer the project's .venv is on PATH already and STACK_RUN is empty.
run := env("STACK_RUN", "hatch run")
# `python -m stack` from this directory, not the console script: it needs no install of the
# project itself (hatch's lock sync, after a pull that changed the lock, uninstalls it).
stack := run + " python -m stack"

# list the recipes
default:
    @just --list

# --- services -----------------------------------------------------------------------------

# start PostgreSQL and Kafka (docker when an engine answers, else local processes)
up *ARGS:
    {{ stack }} up {{ ARGS }}

# stop the services (`just down --wipe` also deletes their data)
down *ARGS:
    {{ stack }} down {{ ARGS }}

# each service: up or down, version, address
status *ARGS:
    {{ stack }} status {{ ARGS }}

# the services' logs (`just logs kafka -f`)
logs *ARGS:
    {{ stack }} logs {{ ARGS }}

# run a SQL statement against the project's database
sql QUERY:
    {{ stack }} sql "{{ QUERY }}"

# the end-to-end demo: services up, then every pipeline once, then the status
demo:
    {{ stack }} demo

# --- realtime -----------------------------------------------------------------------------

# produce synthetic transactions to Kafka (`just produce --count 10000`)
produce *ARGS:
    {{ stack }} produce {{ ARGS }}

# consume transactions into PostgreSQL (`just consume --idle-timeout 5`)
consume *ARGS:
    {{ stack }} consume {{ ARGS }}

# produce and consume together, bounded (a demo of the realtime path)
stream *ARGS:
    {{ stack }} stream {{ ARGS }}

# --- batch --------------------------------------------------------------------------------

# generate monthly CSV statements and PDFs into data/incoming
gen-batch *ARGS:
    {{ stack }} batch generate {{ ARGS }}

# ingest data/incoming into PostgreSQL (idempotent)
ingest-batch *ARGS:
    {{ stack }} batch ingest {{ ARGS }}

# batch ingest, then a bounded realtime consume
ingest:
    {{ stack }} ingest

# --- warehouse ----------------------------------------------------------------------------

# incremental load PostgreSQL -> warehouse (`just load --target snowflake`)
load *ARGS:
    {{ stack }} load {{ ARGS }}

# dbt build (deps, seed, run, test) on the warehouse
transform *ARGS:
    {{ stack }} transform {{ ARGS }}

# recent data from PostgreSQL in DuckDB (`just preview --days 7`)
preview *ARGS:
    {{ stack }} preview {{ ARGS }}

# --- agent --------------------------------------------------------------------------------

# ask the agent (`just ask "spend by category in March 2025" --show-sql`)
ask QUESTION *ARGS:
    {{ stack }} ask "{{ QUESTION }}" {{ ARGS }}

# the agent's index, chat and eval (`just agent index`, `just agent eval`)
agent *ARGS:
    {{ stack }} agent {{ ARGS }}

# --- airflow ------------------------------------------------------------------------------

# `stack airflow run DAG_ID`, `dags`, `ui`, `up`, `down` (Airflow itself: `just up --airflow`)
airflow *ARGS:
    {{ stack }} airflow {{ ARGS }}

# the airflow env from pylock.airflow.toml, with the stack installed in it (hatch's lock sync
# removes the project's own editable install, so it is put back without dependencies)
airflow-env:
    hatch env create airflow
    uv pip install --quiet --python "$(hatch env find airflow)/bin/python" --no-deps -e .

# --- development --------------------------------------------------------------------------

# run the tests against real services (they start their own); no ARGS: the default env's
# suite, then tests/airflow in the airflow env
test *ARGS:
    {{ run }} pytest {{ if ARGS == "" { "--ignore=tests/airflow" } else { ARGS } }}
    {{ if ARGS == "" { "just test-airflow" } else { "" } }}

# the Airflow tests (real Airflow, PostgreSQL, DuckDB, fakesnow) in the airflow env
# (`just test-airflow -k local` for some)
test-airflow *ARGS: airflow-env
    hatch run airflow:pytest tests/airflow {{ ARGS }}

# lint and check formatting
lint:
    hatch run lint:check

# format the code
fmt:
    hatch run lint:fmt

# run the benchmarks (`just bench realtime`; `airflow` runs in the airflow env)
bench NAME *ARGS:
    {{ if NAME == "airflow" { "hatch run airflow:python" } else { run + " python" } }} -m bench.{{ NAME }} {{ ARGS }}

# refresh the lock files after changing dependencies in pyproject.toml
lock:
    hatch env lock

# create or refresh .venv from the lock file (`nix develop` and the devcontainer use it)
venv:
    UV_PYTHON_DOWNLOADS=never uv venv --quiet --allow-existing --python 3.11 .venv
    VIRTUAL_ENV=.venv uv pip sync --quiet pylock.toml
    VIRTUAL_ENV=.venv uv pip install --quiet --no-deps -e .
