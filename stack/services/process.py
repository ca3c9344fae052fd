"""Small process and network helpers shared by the local services."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from stack.errors import ServiceError

# PostgreSQL refuses to run as root; when we are root, servers run as this user instead.
UNPRIVILEGED_USER = "nobody"


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 0.2,
    alive: Callable[[], bool] | None = None,
    hint: str = "",
) -> None:
    """Poll `check` until it is true; fail naming what was awaited (and fail early if the
    process died, so a crashed server is reported at once instead of after the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise ServiceError(f"{what}: the process exited while starting. {hint}".strip())
        time.sleep(interval)
    raise ServiceError(f"timed out after {timeout:.0f} s waiting for {what}. {hint}".strip())


def pid_alive(pid: int) -> bool:
    """True while the process runs. A zombie (exited, not yet reaped) counts as gone; when it
    is our own child (a server started in this process, as in tests) it is reaped here."""
    with contextlib.suppress(ChildProcessError):  # not our child: init reaps it
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def terminate(pid: int, *, what: str, timeout: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL: servers get a chance to flush and close cleanly."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), what=f"{what} (pid {pid}) to exit", timeout=10)


def running_as_root() -> bool:
    return os.geteuid() == 0


def demote_prefix() -> list[str]:
    """Command prefix that drops root for servers that refuse it (nothing when not root)."""
    if not running_as_root():
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ServiceError(
            "running as root needs `setpriv` (util-linux) to start PostgreSQL "
            "as an unprivileged user; install util-linux or run as a normal user"
        )
    return [
        setpriv,
        f"--reuid={UNPRIVILEGED_USER}",
        f"--regid={unprivileged_gid()}",
        "--clear-groups",
        "--",
    ]


def unprivileged_uid() -> int:
    return pwd.getpwnam(UNPRIVILEGED_USER).pw_uid


def unprivileged_gid() -> int:
    return pwd.getpwnam(UNPRIVILEGED_USER).pw_gid


def hand_over(path: Path) -> None:
    """Give a directory we created to the unprivileged user (when we are root)."""
    if running_as_root():
        os.chown(path, unprivileged_uid(), unprivileged_gid())


def remove_paths(paths: Iterable[Path]) -> list[str]:
    """Delete each directory or file that exists; the ones deleted."""
    removed = []
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(str(path))
    return removed


def check_reachable_by_unprivileged(path: Path, setting: str) -> None:
    """When root, the demoted server must be able to walk down to `path`."""
    if not running_as_root():
        return
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise ServiceError(
                f"PostgreSQL cannot run as root, so it runs as user '{UNPRIVILEGED_USER}', "
                f"which cannot enter {parent} (mode {oct(mode & 0o777)}). Set {setting} to a "
                f"directory outside it (e.g. {setting}=/var/tmp/stack) or run as a normal user."
            )
