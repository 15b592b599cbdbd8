"""Work handed to a forked child process: the second CPU core for one-shot batches (no UI).

Why: a CPU-bound export holds the GIL for the whole fetch (parsing pages), so a thread
writing the store beside it is starved and rendering the output waits for the end. A
child made by ``fork()`` gets the parent's invoices for free (copy-on-write: nothing is
pickled), does its share on another core, and sends back only a small result.

When it is used, and why that is safe:

* Linux only (``fork`` without ``exec`` is unsafe with macOS system libraries), and
  never when ``INVOICE_TUI_NO_FORK`` is set. Callers always have an in-process path.
* SQLite must not cross a fork: a child inherits the library's bookkeeping of the
  parent's open files and locks, so a connection it opened to the same database could
  believe it holds locks it does not, and a thread inside SQLite at the fork leaves
  the library's mutexes locked in the child. Every connection invoice-tui opens is a
  :class:`CountedConnection`, and ``start(..., uses_sqlite=True)`` forks only while
  none is open (checked and forked under the lock connections open under). A child
  that does not use SQLite (rendering) may fork any time.
* The child runs only invoice-tui's own code on objects it inherited: no import, no
  logging, no thread, no lock another thread could have held at the fork, no cyclic
  GC (off over the fork), none of the program's signal handlers (every signal is
  blocked over the fork; the child resets the handlers, then unblocks). It ignores
  SIGINT (the parent decides, and kills it when cancelled), dies with the parent
  (``PR_SET_PDEATHSIG``), and leaves with ``os._exit``: no atexit handler, no
  inherited buffer flushed twice, no traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .connections import CountedConnection

T = TypeVar("T")

#: Set (to anything) to keep all work in the process: the fallback paths, for debugging.
DISABLE_ENV = "INVOICE_TUI_NO_FORK"
#: Largest result a child sends back (results are counts and short texts).
RESULT_LIMIT = 1 << 20


def available() -> bool:
    """Whether work may be handed to forked children here."""
    return sys.platform == "linux" and hasattr(os, "fork") and not os.environ.get(DISABLE_ENV)


class ChildFailed(Exception):
    """A child that died or failed without an exception the parent could rebuild."""


class Child(Generic[T]):
    """A forked child running one piece of work; :meth:`result` waits for it."""

    def __init__(self, pid: int, reader: int) -> None:
        self.pid = pid
        self._reader: int | None = reader  # None once closed
        self._reading = False
        self._lock = threading.Lock()
        self._status: int | None = None  # once reaped

    def result(self) -> T:
        """Wait for the child; its work's return value, or the exception it raised.

        Blocking: call it in a thread from an event loop. Once only.
        """
        with self._lock:
            reader, self._reading = self._reader, True
        if reader is None:
            raise ChildFailed("a helper process was stopped")
        chunks: list[bytes] = []
        size = 0
        ended = False
        try:
            while chunk := os.read(reader, 65536):
                size += len(chunk)
                if size <= RESULT_LIMIT:
                    chunks.append(chunk)
            ended = True
        finally:
            with self._lock:
                os.close(reader)
                self._reader, self._reading = None, False
            if not ended:  # interrupted: do not wait for the child to finish its work
                self.kill()
            status = self.reap()
        if os.WIFSIGNALED(status):
            raise ChildFailed(f"a helper process was killed (signal {os.WTERMSIG(status)})")
        ok: bool = False
        value: Any = None
        with contextlib.suppress(Exception):
            if size <= RESULT_LIMIT:
                ok, value = pickle.loads(b"".join(chunks))
        if ok:
            result: T = value
            return result
        if isinstance(value, BaseException):
            raise value
        raise ChildFailed(f"a helper process failed ({value or 'no result'})")

    def reap(self) -> int:
        """Wait for the child to end (if it has not been waited for yet); its wait status."""
        with self._lock:
            if self._status is None:
                _, self._status = os.waitpid(self.pid, 0)
            return self._status

    def kill(self) -> None:
        """Stop the child now (a cancelled batch); :meth:`result` then raises ChildFailed."""
        with self._lock:
            if self._status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Kill the child and wait for it: nothing of it is left (no zombie, no open pipe)."""
        self.kill()
        with self._lock:
            if self._reader is not None and not self._reading:  # else result() closes it
                os.close(self._reader)
                self._reader = None
        self.reap()


# Python 3.12+ warns about forking a process with threads: the module's docstring says
# why these children never need a lock another thread could hold.
warnings.filterwarnings("ignore", category=DeprecationWarning,
                        message=r".*use of fork\(\) may lead to deadlocks in the child")
_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None


def _death_signal() -> Callable[..., int] | None:
    """``prctl`` from libc (loaded in the parent: a child imports nothing), or ``None``."""
    global _prctl
    if _prctl is None:
        with contextlib.suppress(Exception):
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
    return _prctl


def start(work: Callable[[], T], *, uses_sqlite: bool = False) -> Child[T] | None:
    """Fork a child that runs ``work()`` and sends its result (or exception) back.

    ``None`` (nothing started) when forking is not available or fails, or when
    ``uses_sqlite`` and this process has a SQLite connection open: the caller does
    the work itself. The child dies with this process (a ``kill -9`` too).
    """
    if not available():
        return None
    prctl = _death_signal()
    parent = os.getpid()
    collecting = gc.isenabled()
    with CountedConnection._lock:
        if uses_sqlite and CountedConnection._open:
            return None
        try:
            reader, writer = os.pipe()
        except OSError:
            return None
        mask: Any = None
        pid = 0
        try:
            # Every signal blocked and no collection over the fork: no handler of this
            # program and no finalizer of its garbage can run in the child before
            # _child has taken them away.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            gc.disable()
            pid = os.fork()
            if pid == 0:
                try:
                    _child(work, reader, writer, mask, prctl, parent)
                finally:
                    os._exit(1)  # whatever happened, the child never returns from here
            return Child(pid, reader)
        except BaseException as exc:  # a failed fork, or an interrupt in between
            if pid > 0:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            os.close(reader)
            if isinstance(exc, OSError):  # no memory or process slot: the caller does it
                return None
            raise
        finally:
            os.close(writer)
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if collecting:
                gc.enable()


def _child(work: Callable[[], Any], reader: int, writer: int, mask: Any,
           prctl: Callable[..., int] | None, parent: int) -> None:
    code = 1
    try:
        CountedConnection._lock = threading.RLock()  # the parent's thread held it
        CountedConnection._open = 0
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before that: nobody waits for this
            return
        os.close(reader)
        # The program's own signal handlers (its event loop's, Textual's suspend and
        # resume) are not the child's: defaults, and Ctrl-C is the parent's to handle
        # (it kills the child).
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)
        for number in signal.valid_signals():
            with contextlib.suppress(ValueError, OSError, TypeError):
                if callable(signal.getsignal(number)):
                    signal.signal(number, signal.SIG_DFL)
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _send(writer, _outcome(work))
        code = 0
    finally:
        os._exit(code)


def _outcome(work: Callable[[], Any]) -> bytes:
    try:
        outcome: tuple[bool, Any] = (True, work())
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        outcome = (False, exc)
    try:
        return pickle.dumps(outcome)
    except Exception:
        failure = outcome[1]
        name = type(failure).__name__ if isinstance(failure, BaseException) else "result"
        return pickle.dumps((False, f"{name} could not be sent back"))


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)
