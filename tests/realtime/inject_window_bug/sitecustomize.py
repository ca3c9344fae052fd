"""Put on PYTHONPATH, this makes the window process fail as it starts, as a bug in it would
(the only way to reach code that runs in that child process)."""

from stack.realtime.window_state import WindowState


def _buggy(self) -> None:
    raise RuntimeError("injected by the test")


WindowState.prepare = _buggy  # only the window process prepares its state
