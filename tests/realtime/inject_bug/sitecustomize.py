"""Put on PYTHONPATH, this makes every Python process of a test (the CLI, the writer child,
the window process) fail on the message keyed `bug`, as a bug in the stack would: the only
way to reach code that runs in a child process."""

import stack.realtime.events as events

_validate = events._validate


def _buggy(key, payload, timestamp_ms, clock_skew_s):
    if key == b"bug":
        raise RuntimeError("injected by the test")
    return _validate(key, payload, timestamp_ms, clock_skew_s)


events._validate = _buggy
