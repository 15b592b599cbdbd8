"""Every SQLite connection invoice-tui opens is a :class:`CountedConnection` (no UI here).

Why: a child process forked while this process has a connection open must not use
SQLite (see :mod:`forked`), so the open ones are counted. A module of its own, so
that reading the store at start-up does not import what forking needs.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import Any


class CountedConnection(sqlite3.Connection):
    """``sqlite3.connect(..., factory=CountedConnection)``: counted while open."""

    # Reentrant: opening a connection can run the garbage collector, which can close
    # (and uncount) a dropped one in the same thread.
    _lock = threading.RLock()
    _open = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Opened under the lock forked.start() forks under: none is half open in a child.
        with CountedConnection._lock:
            super().__init__(*args, **kwargs)
            CountedConnection._open += 1
        self._counted = True

    def _uncount(self) -> None:
        if self.__dict__.pop("_counted", False):
            with CountedConnection._lock:
                CountedConnection._open -= 1

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._uncount()

    def __del__(self) -> None:  # dropped unclosed: closed first, then no longer counted
        with contextlib.suppress(Exception):
            self.close()
        self._uncount()
