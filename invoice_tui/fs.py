"""Small file-system helpers: atomic replace, output targets, new files, bounded reads.

No UI and no config here: ``config``, the CLI and the TUI all write
through these, so "the old file survives a failed write", "a killed save leaves
nothing behind for long", "a special file is never replaced" and "a saved file
never follows a planted link" are each one piece of code; files the user names
(config, key files) are read through :func:`read_small_file`, so "a FIFO or
/dev/zero never hangs or floods us" is one too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

# --- atomic replace, and the temp files a killed writer leaves -----------------------

#: A temp file without a pid in its name (written before pids were added) is stale
#: after this long; no save takes an hour.
STALE_UNNAMED_SECONDS = 3600.0
#: A temp file whose pid is alive is kept, unless it has not been written to for this
#: long: then the pid was reused by another process (a live save writes continuously).
STALE_REUSED_PID_SECONDS = 86400.0
# ".NAME.<pid>.<mkstemp's 8 random characters>.tmp"; the pid is optional for the
# names an older release wrote (".NAME.<random>.tmp").
_TEMP_TAIL = r"(?:(?P<pid>\d{1,10})\.)?[a-z0-9_]{8}\.tmp"
_TEMP_NAME = re.compile(r"\..+?\." + _TEMP_TAIL)
_TEMP_NAME_TAIL = re.compile(_TEMP_TAIL)


def write_atomic(path: Path, data: bytes | Iterable[bytes], mode: int = 0o600) -> None:
    """Write via a temp file in the same dir + fsync + rename; the old file survives a failure.

    ``data`` may be an iterable of chunks (big exports stream). The temp file is
    created with mode 0600 (``mkstemp``) so the content is never readable by
    others, even briefly; ``mode`` is applied before the rename. Its name
    (``.NAME.<pid>.<random>.tmp``) carries the writer's pid, so the next save of
    ``path`` removes what a killed writer left (:func:`remove_stale_temp_files`).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    remove_stale_temp_files(path.parent, path.name)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                    suffix=".tmp")
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


def remove_stale_temp_files(directory: Path, name: str | None = None) -> int:
    """Delete our temp files in ``directory`` whose writer is gone; returns how many.

    Only names :func:`write_atomic` makes (of ``name``'s saves, or of any file
    when ``name`` is ``None``), only regular files, never one whose pid is a
    live process: two instances may be saving at once. A name without a pid
    goes once it is an hour old. Never raises: cleaning up is best effort.
    """
    removed = 0
    prefix = "." if name is None else f".{name}."
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.name.endswith(".tmp"):
            continue
        match = (_TEMP_NAME.fullmatch(entry.name) if name is None
                 else _TEMP_NAME_TAIL.fullmatch(entry.name, len(prefix)))
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = match["pid"]
            if pid is None:
                stale = age > STALE_UNNAMED_SECONDS
            else:
                stale = not pid_alive(int(pid)) or age > STALE_REUSED_PID_SECONDS
            if stale:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (in doubt: yes, so its file is kept)."""
    if os.name == "nt":
        # os.kill(pid, 0) would send CTRL_C_EVENT there; rely on the age rule.
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # beyond any pid the system can have
    except OSError:
        return True  # another user's process (EPERM), or an odd platform: keep the file
    return True


# --- export targets: replace a file, stream to a FIFO or device ---------------------------

class OutputRefused(Exception):
    """The output path is something we must not write to; ``str()`` is the one-line reason."""


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot take an export (``"is a directory — …"``), or ``None`` if it can.

    Cheap, so the CLI checks it before a long fetch; :func:`write_output` checks again.
    """
    try:
        info = os.stat(path)  # through symlinks: the target decides
    except FileNotFoundError:
        return None  # a new file (or a dangling symlink's new target)
    except OSError as exc:  # a symlink loop, a parent that is a file, no permission
        return f"cannot be used ({exc.strerror or type(exc).__name__}) — check the path"
    kind = stat.S_IFMT(info.st_mode)
    if kind in (stat.S_IFREG, stat.S_IFIFO, stat.S_IFCHR):
        return None
    if kind == stat.S_IFDIR:
        return "is a directory — give a file name inside it"
    return f"is {file_kind(info.st_mode)} — give a regular file, a FIFO, a character device or -"


def write_output(path: Path, chunks: Iterable[bytes], mode: int = 0o600) -> None:
    """Write an export to ``path`` the way its kind needs; never replace a special file.

    * a regular file, or a new path: replaced atomically (:func:`write_atomic`,
      ``mode``), so a failed export leaves the old file whole;
    * a FIFO or a character device (``/dev/null``, a tty): opened and written to
      as a stream, never replaced, never created;
    * a symlink: followed, and its target handled by these same rules. The user
      named the link, as with a shell's ``>``; replacing the link itself with a
      regular file would silently cut it from the file it stands for;
    * anything else (a directory, a socket, a block device): :class:`OutputRefused`.

    Other failures are ``OSError``.
    """
    problem = output_problem(path)
    if problem is not None:
        raise OutputRefused(problem)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        _write_stream(path, chunks)
        return
    # realpath: the file a symlink (chain) points at, so the rename replaces the
    # target in its own directory and the link stays a link.
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    write_atomic(target, chunks, mode)


def _write_stream(path: Path, chunks: Iterable[bytes]) -> None:
    """Write every chunk to an existing FIFO or character device (no create, no truncate)."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # a FIFO blocks here until a reader opens it, as with `>`
    try:
        info = os.fstat(fd)
        if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            # Swapped for another kind of file since the check: do not write into it.
            raise OutputRefused("changed while being opened — try again")
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                if written <= 0:  # a device that takes nothing: stop rather than spin
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                view = view[written:]
    finally:
        os.close(fd)


# --- new files in a shared folder (PDFs) -------------------------------------------------

#: Names a new file tries (``NAME.pdf``, ``NAME-2.pdf``, …) before giving up.
NEW_FILE_NAME_TRIES = 1000


def save_new_file(directory: Path, stem: str, suffix: str, data: bytes,
                  mode: int = 0o600) -> Path:
    """Save ``data`` as a new file ``directory/STEM SUFFIX`` (else ``STEM-2 SUFFIX``, …).

    Each name is tried with ``O_CREAT | O_EXCL | O_NOFOLLOW``: an existing file
    or a symlink someone planted at that name is never opened, followed or
    overwritten, and the next name is tried the same way, so there is no
    exists-then-write race and two saves at once get two files. A failed write
    removes the file it created: no half file is left. ``directory`` is created
    (mode 0700) if missing. Raises ``OSError``.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for attempt in range(1, NEW_FILE_NAME_TRIES + 1):
        path = directory / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
        try:
            fd = os.open(path, flags, mode)
        except FileExistsError:
            continue
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)  # ours: we just created it exclusively
            raise
        return path
    raise FileExistsError(errno.EEXIST, f"{stem}{suffix} and {NEW_FILE_NAME_TRIES - 1} "
                          "numbered names are all taken", str(directory))


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
