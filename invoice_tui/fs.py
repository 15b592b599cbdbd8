"""Small file-system helpers: atomic replace, durable renames, bounded reads.

No UI and no config here: ``config``, ``cache``, the CLI and the TUI all write
through :func:`write_atomic`, so "the old file survives a failed write" is one
piece of code; files the user names (config, key files) are read through
:func:`read_small_file`, so "a FIFO or /dev/zero never hangs or floods us" is one too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


class NotARegularFile(OSError):
    """A path to read is a FIFO, a device, a socket or a directory; ``kind`` says which."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"not a regular file ({kind})")
        self.kind = kind


class FileTooLarge(OSError):
    """A file to read is larger than the reader's limit (``limit`` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words (``"a FIFO"``, ``"a directory"``, …)."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_small_file(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``path`` (at most ``limit``) and its ``fstat``.

    For files the user points us at (config, key files), which may be anything:
    the open never blocks (a FIFO with no writer, a tty), anything but a regular
    file is :class:`NotARegularFile` before a byte is read (``/dev/zero``), and
    no more than ``limit + 1`` bytes are ever read (:class:`FileTooLarge`), even
    if the file grows meanwhile. ``FileNotFoundError``/``OSError`` pass through.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a socket cannot be opened at all
            raise NotARegularFile(file_kind(os.stat(path).st_mode)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(file_kind(info.st_mode))
        if info.st_size > limit:
            raise FileTooLarge(limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise FileTooLarge(limit)
        return b"".join(chunks), info
    finally:
        os.close(fd)
