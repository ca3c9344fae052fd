"""An installed `stack` finds its dbt project: the wheel carries dbt/, STACK_PROJECT_DIR
overrides it, and a wrong STACK_PROJECT_DIR is one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stack.settings import PROJECT_ROOT
from tests.helpers import run_stack


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("stack-*.whl")
    return built


def test_the_wheel_carries_the_dbt_project_without_build_output(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    project = [n for n in names if n.startswith("stack/_project/dbt/")]
    assert "stack/_project/dbt/dbt_project.yml" in project
    assert "stack/_project/dbt/profiles.yml" in project
    assert any(n.startswith("stack/_project/dbt/models/marts/") for n in project)
    assert not [n for n in project if "/target/" in n or "/logs/" in n]


def test_an_installed_stack_parses_its_packaged_dbt_project(wheel, settings, tmp_path):
    """Unpacked away from the checkout (as pip installs it), `stack` uses the copy of dbt/ it
    carries and writes dbt's output under STACK_HOME."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    home = tmp_path / "home"
    code = (
        "from stack.settings import load_settings; from stack.project import dbt_dir; "
        "from stack.warehouse.transform import run_dbt; s = load_settings(); "
        "print(dbt_dir(s)); raise SystemExit(run_dbt(s, ['parse'], timeout=300))"
    )
    env = {
        **os.environ,
        **settings.as_env(),
        "STACK_HOME": str(home),
        "PYTHONPATH": str(site),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(site / "stack" / "_project" / "dbt")
    assert (home / "dbt-target" / "manifest.json").is_file()


def test_a_wrong_project_dir_names_the_setting(settings, tmp_path):
    result = run_stack(settings, "transform", extra_env={"STACK_PROJECT_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "STACK_PROJECT_DIR" in result.stderr and "Traceback" not in result.stderr
