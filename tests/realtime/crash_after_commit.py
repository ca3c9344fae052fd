"""`stack ARGS`, except that the consumer SIGKILLs itself right after its first PostgreSQL
commit, before Quix commits the Kafka offsets: the narrowest window of a crash."""

from __future__ import annotations

import os
import signal
import sys

from stack.realtime.sink import TransactionsSink

commit_rows = TransactionsSink.flush


def flush_then_die(self: TransactionsSink) -> None:
    commit_rows(self)
    if self.committed.messages:  # rows committed; Quix would commit the offsets next
        os.kill(os.getpid(), signal.SIGKILL)


TransactionsSink.flush = flush_then_die

if __name__ == "__main__":
    from stack.cli import main

    sys.argv = ["stack", *sys.argv[1:]]
    main()
