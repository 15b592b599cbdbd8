"""Small file-system helpers every writer shares: atomic replace, durable renames.

No UI and no config here: ``config``, ``cache``, the CLI and the TUI all write
through :func:`write_atomic`, so "the old file survives a failed write" is one
piece of code.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: Path, data: bytes | Iterable[bytes], mode: int = 0o600) -> None:
    """Write via a temp file in the same dir + fsync + rename; the old file survives a failure.

    ``data`` may be an iterable of chunks (big exports stream). The temp file is
    created with mode 0600 (``mkstemp``) so the content is never readable by
    others, even briefly; ``mode`` is applied before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes | bytearray | memoryview):
                handle.write(data)
            else:
                for chunk in data:
                    handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            if mode != 0o600:
                os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where a directory cannot be opened)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
