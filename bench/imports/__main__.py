"""What a command pays before it does anything: `python -X importtime -m stack CMD`.

For each light command (`--help`, `config`) and `import stack.jobs`, the median over
`--repeat` runs of the wall time and of the imports' cumulative time, next to a bare
interpreter (`python -c pass`) measured in the same run, and the heavy modules each imports.
With `--compare DIR` (another checkout, e.g. `git worktree add /tmp/before <rev>`), the same
commands run from that checkout too, interleaved, and the ratios are printed.

    hatch run python -m bench.imports [--repeat 7] [--compare /tmp/before]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from stack.settings import PROJECT_ROOT

HEAVY = (
    "pyarrow",
    "duckdb",
    "adbc_driver_manager",
    "quixstreams",
    "confluent_kafka",
    "dbt",
    "psycopg",
    "pandas",
)
COMMANDS = {
    "stack --help": ["-m", "stack", "--help"],
    "stack config": ["-m", "stack", "config"],
    "import stack.jobs": ["-c", "import stack.jobs"],
    "python -c pass": ["-c", "pass"],
}


def run(args: list[str], cwd: Path) -> tuple[float, float, set[str]] | None:
    """(wall ms, cumulative import ms of top-level modules, heavy modules imported); None when
    the command fails there (an older checkout without stack.jobs)."""
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True
    )
    if result.returncode != 0:
        return None
    wall = (time.perf_counter() - began) * 1000
    imports, heavy = 0, set()
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (
            part.strip() for part in line.removeprefix("import time:").split("|")
        )
        if not cumulative.isdigit():
            continue
        top = name.split(".")[0]
        if top in HEAVY:
            heavy.add(top)
        raw_name = line.split("|")[2]
        if len(raw_name) - len(raw_name.lstrip()) == 1:  # a top-level import, not a nested one
            imports += int(cumulative)
    return wall, imports / 1000, heavy


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="another checkout to measure beside this one")
    args = parser.parse_args()
    trees = {"this": PROJECT_ROOT} | ({"compare": args.compare} if args.compare else {})
    samples: dict[tuple[str, str], list[tuple[float, float, set[str]]]] = {}
    for _ in range(args.repeat):  # interleaved: a busy moment hits every command alike
        for label, command in COMMANDS.items():
            for tree, path in trees.items():
                measured = run(command, path)
                if measured is not None:
                    samples.setdefault((label, tree), []).append(measured)
    print(f"median of {args.repeat} runs; import ms = cumulative time of top-level imports")
    print(f"{'command':20} {'tree':8} {'wall ms':>8} {'import ms':>10}  heavy modules")
    medians = {}
    for (label, tree), runs in samples.items():
        wall = statistics.median(r[0] for r in runs)
        imports = statistics.median(r[1] for r in runs)
        heavy = sorted(set().union(*(r[2] for r in runs)))
        medians[(label, tree)] = (wall, imports)
        print(f"{label:20} {tree:8} {wall:8.0f} {imports:10.0f}  {', '.join(heavy) or '-'}")
    bare = medians[("python -c pass", "this")][0]
    for label in COMMANDS:
        if label == "python -c pass":
            continue
        wall, imports = medians[(label, "this")]
        line = f"{label}: {wall / bare:.1f}x a bare interpreter"
        if (label, "compare") in medians:
            old_wall, old_imports = medians[(label, "compare")]
            line += (
                f"; vs --compare: wall {wall / old_wall:.2f}x, imports {imports / old_imports:.2f}x"
            )
        print(line)


if __name__ == "__main__":
    main()
