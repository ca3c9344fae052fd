"""The shape of the library: only stack/cli/ renders, and a command imports what it uses."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from stack.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "stack"
HEAVY = {"pyarrow", "duckdb", "adbc_driver_manager", "adbc_driver_postgresql", "quixstreams", "dbt"}
# Writes to the standard streams outside stack/cli/, each with its reason.
ALLOWED_WRITES = {
    # the window-totals child's protocol with its parent (JSON lines on a pipe), not output
    ("stack/realtime/windows.py", "_send"),
}


def _library_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if not relative.startswith("stack/cli/"):
            yield relative, ast.parse(path.read_text(), relative)


def _writes(tree: ast.AST, function: str = "<module>"):
    """(innermost function, what) for each print(), sys.stdout/sys.stderr use and
    traceback.print_*."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _writes(node, node.name)
            continue
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            yield function, "print()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "sys" and node.attr in ("stdout", "stderr"):
                yield function, f"sys.{node.attr}"
            if node.value.id == "traceback" and node.attr.startswith("print"):
                yield function, f"traceback.{node.attr}"
        yield from _writes(node, function)


def test_only_the_cli_imports_rich():
    importing = []
    for relative, tree in _library_modules():
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            ) + ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "rich" or "console" in name for name in names):
                importing.append(relative)
    assert importing == []


def test_the_library_does_not_print():
    found = {
        (relative, function, what)
        for relative, tree in _library_modules()
        for function, what in _writes(tree)
        if (relative, function) not in ALLOWED_WRITES
    }
    assert found == set()


@pytest.mark.parametrize("command", [["--help"], ["config"]])
def test_light_commands_import_no_driver(command):
    """`stack --help` and `stack config` pay for neither Arrow, DuckDB, ADBC, Quix nor dbt."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "stack", *command],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert imported & HEAVY == set()
