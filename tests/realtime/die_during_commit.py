"""`stack ARGS`, except that the consumer SIGKILLs itself right after asking its writer process
to commit, before the answer comes: the writer then answers a parent that is gone."""

from __future__ import annotations

import os
import signal
import sys

from stack.realtime.writer_process import WriterClient


def commit_then_die(self: WriterClient):
    self._send(("commit",))
    os.kill(os.getpid(), signal.SIGKILL)


WriterClient.commit = commit_then_die

if __name__ == "__main__":
    from stack.cli import main

    sys.argv = ["stack", *sys.argv[1:]]
    main()
