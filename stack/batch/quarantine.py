"""Files the ingest refuses move to the rejected directory, with the reason beside them."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

from stack.errors import StackError


def quarantine(
    source: Path, relative: str, rejected_dir: Path, *, sha256: str, reason: str, detail: str
) -> Path:
    """Move `source` to `rejected_dir/relative` and write `<name>.reason.txt` beside it.

    A different file already quarantined under the same name is kept: the newcomer gets the
    first 8 hex digits of its sha256 in its name. Returns where the file went.
    """
    target = rejected_dir / relative
    if target.exists() and _sha256(target) != sha256:
        target = target.with_name(f"{target.stem}.{sha256[:8]}{target.suffix}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        target.with_name(target.name + ".reason.txt").write_text(
            f"file: {relative}\n"
            f"sha256: {sha256}\n"
            f"reason: {reason}\n"
            f"detail: {detail}\n"
            f"rejected_at: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        )
    except OSError as error:
        raise StackError(
            f"cannot move {source} to {target}: {error.strerror} (check BATCH_REJECTED_DIR)",
            exit_code=2,
        ) from None
    return target


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
