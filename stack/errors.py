"""User-facing errors: the CLI prints their message on one line and exits non-zero, no traceback.

Raise these for anything the user can fix (a setting, a file, a busy port, a missing
binary); let real bugs surface as tracebacks.
"""

from __future__ import annotations

# The exit code of a run in which the stack failed on some item (a file, a message) through a
# bug, not the input: that item is kept aside, the others were processed as usual.
EXIT_INTERNAL = 4


class StackError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(StackError):
    """A missing or invalid setting."""

    exit_code = 2


class ServiceError(StackError):
    """A service cannot be started, stopped or reached."""

    exit_code = 3
