"""Write-then-rename: an output file either appears complete and verified, or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".sgtmp"


@contextlib.contextmanager
def atomic_output(dst: Path, *, mode_from: Path | None = None, durable: bool = True
                  ) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield (file, temp path) in `dst`'s directory. On normal exit the temp file is
    fsynced (unless not `durable`) and stays for the caller to verify and `commit`; on
    error it is removed."""
    # The temp name keeps the destination's extension: text formats are told apart by it.
    fd, name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=TEMP_SUFFIX + dst.suffix,
                                dir=dst.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f, tmp
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if mode_from is not None:
            shutil.copymode(mode_from, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def commit(tmp: Path, dst: Path, *, durable: bool = True) -> None:
    """Atomically move a verified temp file into place and make the rename durable.

    Without `durable` the rename is still atomic (readers see the old file or the whole
    new one) but a power cut soon after may lose the new file: for bulk jobs that can
    be rerun, where two fsyncs per file cost more than the labeling itself."""
    os.replace(tmp, dst)
    if not durable:
        return
    dir_fd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
