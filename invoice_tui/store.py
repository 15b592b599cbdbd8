"""The local invoice store: one SQLite database (stdlib ``sqlite3``, WAL).

The schema is the contract between the sync (which writes pages as they arrive)
and the views (which read headers, and lines on demand). Users may query it with
any SQLite tool; README documents it. It is only a cache: anything wrong with
the file costs a refetch, never more.

Connections: readers use one connection per thread (``threading.local``), because
a ``sqlite3`` connection must not be used by two threads at once and WAL lets every
reader run beside the writer without waiting. Each sync's :class:`SyncWriter` has a
connection of its own: its batches run in whatever executor thread
``asyncio.to_thread`` picks, and a writer's transactions must never interleave with
another sync's (two accounts syncing at once in one process). Writes take the lock
up front (``BEGIN IMMEDIATE``) and wait up to :data:`BUSY_TIMEOUT_SECONDS` for
another writer, in this process or another one: two instances at once wait, they
never fail or corrupt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from decimal import Decimal
from itertools import repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any, NamedTuple

# The module, not the function: view.py may come to import the store, and a
# module reference resolves at call time, so such a cycle cannot break imports.
from . import forked, view
from .config import AccountConfig
from .connections import CountedConnection
from .fs import pid_alive, remove_stale_temp_files
from .model import (
    INVOICE_FIELDS,
    LINE_FIELDS,
    TAX_FIELDS,
    AccountSummary,
    Invoice,
    Line,
    Tax,
)
from .text import sanitize

DB_NAME = "invoices.sqlite3"
SCHEMA_VERSION = 2  # PRAGMA user_version

#: Amounts are exact decimal TEXT (``str(Decimal)``), dates ``YYYY-MM-DD``, flags 0/1.
#: Column names are SPEC §2's.
_DATA_TABLES = """
CREATE TABLE accounts (
    account_key      TEXT PRIMARY KEY,   -- hash of name, provider, base_url, key path: no secret
    name             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    synced_at        TEXT,               -- ISO 8601 UTC of the last complete sync; NULL before
    invoice_count    INTEGER NOT NULL DEFAULT 0,  -- invoices of the last complete sync
    plan_price       TEXT,
    plan_currency    TEXT,
    balance          TEXT,
    balance_currency TEXT
);
CREATE TABLE invoices (
    pk                  INTEGER PRIMARY KEY,  -- stable across refreshes (rows are upserted)
    account_key         TEXT NOT NULL REFERENCES accounts (account_key) ON DELETE CASCADE,
    account             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    id                  TEXT NOT NULL,
    number              TEXT,
    label               TEXT,
    issued              TEXT,
    due                 TEXT,
    period_start        TEXT,
    period_end          TEXT,
    status              TEXT NOT NULL,
    currency            TEXT NOT NULL,
    subtotal            TEXT,
    discount            TEXT,
    tax                 TEXT,
    total               TEXT,
    amount_due          TEXT,
    tax_rate            TEXT,
    url                 TEXT,
    pdf_url             TEXT,
    totals_computed     INTEGER NOT NULL DEFAULT 0,
    estimate_incomplete INTEGER NOT NULL DEFAULT 0,
    search              TEXT NOT NULL,  -- what the / filter matches (view.search_text)
    sync_id             INTEGER NOT NULL,  -- the sync that last wrote the row
    UNIQUE (account_key, id)
);
CREATE INDEX invoices_by_issued ON invoices (issued DESC, account, id);
CREATE TABLE lines (
    invoice_pk   INTEGER NOT NULL REFERENCES invoices (pk) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    description  TEXT NOT NULL,
    quantity     TEXT,
    unit_price   TEXT,
    amount       TEXT,
    tax          TEXT,
    net          TEXT,
    gross        TEXT,
    currency     TEXT,
    period_start TEXT,
    period_end   TEXT,
    consumption  TEXT,
    "limit"      TEXT,
    lookup_key   TEXT,
    PRIMARY KEY (invoice_pk, position)
) WITHOUT ROWID;
CREATE TABLE taxes (
    invoice_pk    INTEGER NOT NULL,
    line_position INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    name          TEXT,
    rate          TEXT,
    amount        TEXT,
    level         TEXT,
    category      TEXT,
    taxable       TEXT,
    currency      TEXT,
    PRIMARY KEY (invoice_pk, line_position, position),
    FOREIGN KEY (invoice_pk, line_position) REFERENCES lines (invoice_pk, position)
        ON DELETE CASCADE
) WITHOUT ROWID;
"""
_SYNC_TABLES = """
-- A running sync, and the invoices it has written: a finished sync deletes the rows
-- of its account that it did not see, in the same transaction that stamps synced_at.
CREATE TABLE syncs (
    -- AUTOINCREMENT: an id is never handed out twice, so a row written by a sync that
    -- ended long ago is never taken for one written by a sync running now.
    sync_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    account_key TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL
);
CREATE TABLE sync_seen (
    sync_id    INTEGER NOT NULL,
    invoice_pk INTEGER NOT NULL,
    PRIMARY KEY (sync_id, invoice_pk)
) WITHOUT ROWID;
"""
SCHEMA = _DATA_TABLES + _SYNC_TABLES

#: How long a write waits for another writer (this or another process) before failing.
BUSY_TIMEOUT_SECONDS = 30.0
#: Invoices per chunk when streaming (``iter_invoices``): one lines query per chunk.
READ_CHUNK = 500
#: Bound parameters per ``IN (…)`` list (SQLite before 3.32 allows 999 per statement).
_IN_CHUNK = 500


class StoreError(Exception):
    """The store cannot be read or written: a one-line ``reason`` and a ``hint``."""

    def __init__(self, reason: str, hint: str = "") -> None:
        self.reason = sanitize(reason)
        self.hint = sanitize(hint)
        super().__init__(self.reason)

    def __str__(self) -> str:
        return f"{self.reason} — {self.hint}" if self.hint else self.reason

    def __reduce__(self) -> tuple[type[StoreError], tuple[str, str]]:
        return (StoreError, (self.reason, self.hint))  # whole, from a forked writer


def account_key(account: AccountConfig) -> str:
    """The account's identity in the store: a hash of name, provider, base URL and key path.

    Never a secret: rotating a token keeps the account's rows; pointing it at
    another server or key file starts a new account.
    """
    identity = "\0".join([
        account.name,
        account.provider,
        str(account.options.get("base_url") or ""),
        str(account.options.get("credentials") or ""),
    ])
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


# Records, NamedTuples: the first frame imports this module (see providers/base.py).


class StoredAccount(NamedTuple):
    """What the last complete sync of one account left (``synced_at`` ``None``: none yet)."""

    synced_at: dt.datetime | None = None  # timezone-aware UTC
    invoice_count: int = 0
    summary: AccountSummary = AccountSummary()

    @property
    def synced(self) -> bool:
        """Whether a sync of this account ever completed."""
        return self.synced_at is not None


class StoredHeaders(NamedTuple):
    """One account's invoices without their lines, and each one's search text (same order)."""

    invoices: tuple[Invoice, ...]
    search: tuple[str, ...]


class StoreOpened(NamedTuple):
    """An open store, and one line per thing that went wrong on the way (already handled)."""

    store: InvoiceStore
    warnings: tuple[str, ...] = ()


# --- opening -------------------------------------------------------------------------

def open_store(directory: Path, *, quick_check: bool = True) -> StoreOpened:
    """Open (or create) ``directory/invoices.sqlite3``; never fails for a bad file.

    The directory is created mode 0700, the database file 0600 (SQLite gives its
    ``-wal``/``-shm`` files the same mode). A file that is not a database, fails
    ``PRAGMA quick_check`` or has another schema version is moved aside as
    ``invoices.sqlite3.broken-<UTC time>`` (with its ``-wal``/``-shm``) and a new
    one is made: one warning line names it. Files of the old JSON cache are
    removed with one note. When the directory cannot hold a database at all, the
    invoices live in a temporary store for this run (one warning says so).
    Raises :class:`StoreError` only when not even that works.

    ``quick_check=False`` keeps the open quick for a big store (the check reads every
    page: ~0.4 s at 100,000 invoices) and leaves the check to :meth:`InvoiceStore.verify`,
    e.g. in a thread once the TUI is drawn; the file's kind, version and schema are
    still checked. A store that failed a later check, or a read, is checked fully at
    the next open whatever ``quick_check`` says.
    """
    warnings: list[str] = []
    path = directory / DB_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        warnings.extend(_remove_old_cache(directory))
        connection = _open_checked(path, warnings, quick_check)
    except (OSError, StoreError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        warnings.append(f"store: cannot use {path} ({why}) — invoices are kept for this run "
                        "only; check the cache directory (--cache-dir) and its permissions")
        return StoreOpened(_temporary_store(), tuple(warnings))
    store = InvoiceStore(path)
    store._adopt(connection)
    return StoreOpened(store, tuple(warnings))


def _temporary_store() -> InvoiceStore:
    try:
        directory = Path(tempfile.mkdtemp(prefix="invoice-tui-store-"))
        store = InvoiceStore(directory / DB_NAME, owns_directory=True)
        store._adopt(_open_checked(store.path, [], quick_check=False))
    except (OSError, StoreError) as exc:
        raise StoreError(f"cannot create even a temporary invoice store ({exc})",
                         "check that the temp directory ($TMPDIR) is writable") from None
    return store


def _open_checked(path: Path, warnings: list[str], quick_check: bool) -> sqlite3.Connection:
    """A connection to a usable store at ``path``: made, checked, or moved aside and made anew."""
    suspect = _suspect_marker(path)
    quick_check = quick_check or suspect.exists()
    for _attempt in range(3):
        _create_private(path)
        identity = os.stat(path)
        connection: sqlite3.Connection | None = None
        try:
            connection = _connect(path, wal=False)
            problem = _schema_problem(connection, quick_check)
            if problem is None:
                connection.execute("PRAGMA journal_mode=WAL")
                _sweep_stale_syncs(connection)
                if quick_check:
                    with contextlib.suppress(FileNotFoundError):
                        suspect.unlink()
                return connection
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                if connection is not None:
                    connection.close()
                raise _store_error(exc, "open") from None
            problem = _describe(exc)
        if connection is not None:
            connection.close()
        moved = _move_aside(path, identity)
        with contextlib.suppress(FileNotFoundError):
            suspect.unlink()
        warnings.append(f"store: {path} could not be used ({problem}) — moved aside to "
                        f"{moved.name} and started afresh; it is only a cache, the next sync "
                        "refetches")
    raise StoreError(f"{path} keeps breaking", "check the disk and the cache directory")


def _create_private(path: Path) -> None:
    """Create the database file mode 0600 if missing; tighten one that others can read."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        info = os.fstat(fd)
        if info.st_mode & 0o077 and hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _connect(path: Path, *, wal: bool = True) -> sqlite3.Connection:
    """A connection with the store's settings (autocommit: transactions are explicit).

    ``wal=False`` leaves the journal mode alone, so checking a file that turns out
    not to be ours does not change it.
    """
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False, factory=CountedConnection)
    try:
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits, never consistency;
        # a refetch repairs that, and every commit skips an fsync.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        connection.close()
        raise
    return connection


def _suspect_marker(path: Path) -> Path:
    """The file that says "check this store fully at the next open"."""
    return path.with_name(f"{path.name}.check-next-open")


def _integrity_problem(connection: sqlite3.Connection) -> str | None:
    found = connection.execute("PRAGMA quick_check").fetchall()
    if found == [("ok",)]:
        return None
    first = sanitize(found[0][0] if found else "no answer", limit=80)
    return f"integrity check failed: {first}"


def _schema_problem(connection: sqlite3.Connection, quick_check: bool) -> str | None:
    """Why this database is not a usable store (``None``: it is; an empty one gets the schema)."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        tables = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if tables:
            return "not an invoice-tui store"
        _create_schema(connection)
        return None
    if version == 1:
        _migrate_from_1(connection)
    elif version != SCHEMA_VERSION:
        return f"schema version {version}, this invoice-tui uses {SCHEMA_VERSION}"
    if not quick_check:
        # The schema is read (and so sane) by now; the pages wait for verify().
        connection.execute("SELECT count(*) FROM accounts").fetchone()
        return None
    return _integrity_problem(connection)


def _migrate_from_1(connection: sqlite3.Connection) -> None:
    """Version 1 reused the ids of ended syncs (``syncs`` had no AUTOINCREMENT): rows an
    ended sync wrote could pass for a running sync's, and outlive the refresh that should
    have removed them. Its sync tables hold bookkeeping only: they are made anew, numbering
    from past every id the invoices carry. A v1 instance still syncing loses its
    bookkeeping, so its ``finish`` refuses to delete anything ("sync again")."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == 1:  # not done meanwhile
            connection.execute("DROP TABLE sync_seen")
            connection.execute("DROP TABLE syncs")
            for statement in _SYNC_TABLES.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO sqlite_sequence (name, seq) "
                "SELECT 'syncs', coalesce(max(sync_id), 0) FROM invoices")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _create_schema(connection: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE: a second instance creating it at the same moment waits, then
    # finds the tables there, and takes what the first one made.
    try:
        connection.executescript(
            f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")
    except sqlite3.OperationalError:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            raise


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Whether the file itself is bad (not a database, malformed) — not locked or unreadable."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError  # no code: not an OperationalError at least


def _move_aside(path: Path, identity: os.stat_result) -> Path:
    """Rename the database (and its -wal/-shm) to ``NAME.broken-<UTC time>``; that path."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{number}")
    with contextlib.suppress(FileNotFoundError):
        now = os.stat(path)
        # Another instance may have moved the bad file and made a good one meanwhile:
        # that one is not ours to move.
        if (now.st_dev, now.st_ino) != (identity.st_dev, identity.st_ino):
            return target
        os.replace(path, target)
    # SQLite finds a database's WAL by name: keep them together, so the broken copy
    # can still be opened and looked at.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
    return target


def _sweep_stale_syncs(connection: sqlite3.Connection, keep: int | None = None) -> None:
    """Drop the bookkeeping of syncs whose process is gone (killed mid-sync)."""
    rows = connection.execute("SELECT sync_id, pid FROM syncs").fetchall()
    dead = [(sync_id,) for sync_id, pid in rows if sync_id != keep and not pid_alive(pid)]
    if not dead:
        return
    in_transaction = connection.in_transaction
    if not in_transaction:
        connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany("DELETE FROM sync_seen WHERE sync_id = ?", dead)
        connection.executemany("DELETE FROM syncs WHERE sync_id = ?", dead)
    except BaseException:
        if not in_transaction:
            connection.execute("ROLLBACK")
        raise
    if not in_transaction:
        connection.execute("COMMIT")


# Names cache.py (the JSON cache before this store) gave its files, and how they began.
_OLD_CACHE_NAME = re.compile(r"[A-Za-z0-9_.-]{0,40}-[0-9a-f]{16}\.json")
_OLD_CACHE_START = b'{"version": '


def _remove_old_cache(directory: Path) -> list[str]:
    """Delete the old JSON cache's files (and temp files of killed saves); one note if any."""
    remove_stale_temp_files(directory)  # half-written files are not worth a note
    removed = 0
    for entry in os.scandir(directory):
        if not _OLD_CACHE_NAME.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False):
                continue
            with open(entry.path, "rb") as handle:
                start = handle.read(len(_OLD_CACHE_START))
            if start == _OLD_CACHE_START:
                os.unlink(entry.path)
                removed += 1
    if not removed:
        return []
    return [f"store: old cache removed ({removed} file{'s' if removed > 1 else ''} in "
            f"{directory}); it is only a cache — the next sync refetches"]


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _store_error(exc: BaseException, doing: str) -> StoreError:
    """A ``sqlite3``/OS failure as the one line users see."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        hint = "another invoice-tui is writing the store; try again"
    elif "full" in text or "disk" in text:
        hint = "check the free space of the cache directory"
    else:
        hint = "check the cache directory (--cache-dir) and its permissions"
    return StoreError(f"could not {doing} the invoice store ({_describe(exc)})", hint)


# --- model ⇄ rows --------------------------------------------------------------------

_AMOUNT, _DATE, _FLAG = "Decimal | None", "dt.date | None", "bool"
_AS_IS = ("str", "str | None", _FLAG)  # bound as they are: text, NULL, 0/1


def _column_list(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' if name == "limit" else name for name in names)


class _Shape:
    """How one model class becomes rows, built a column at a time in C-level calls.

    Text and flags are bound as they are (``None`` is NULL, a bool 0/1); amounts and
    dates are bound as ``str()``: exact (``str(Decimal)`` reads back as the same
    Decimal, digits and exponent alike) and ISO for dates. ``str(None)`` is
    ``'None'``, which no amount or date can be, and SQL's ``NULLIF(?, 'None')``
    turns back into NULL: a branch per value in C instead of in Python.

    Each column is ``map``-ped over a whole batch and the rows are ``zip``-ped from
    the columns: no Python code runs per row or per value (building rows a tuple at a
    time cost as much as SQLite's writes). A column that is ``None`` in every item of
    a batch (Voximplant lines have no quantity, period or lookup key) is not bound at
    all: the row takes the column's default, NULL, for free.
    """

    def __init__(self, cls: type, table: str, lead: Sequence[str], names: Sequence[str]
                 ) -> None:
        kinds = {f.name: str(f.type) for f in fields(cls)}  # strings: postponed annotations
        assert all(kinds[name] in (*_AS_IS, _AMOUNT, _DATE) for name in names)
        self.table = table
        self.lead = tuple(lead)
        self.getters = tuple((name, attrgetter(name), kinds[name] in (_AMOUNT, _DATE))
                             for name in names)

    def columns(self, items: Sequence[Any]) -> tuple[tuple[str, ...], list[Iterable[Any]]]:
        """The names of the columns ``items`` need bound, and their values (one iterable
        per column, in item order): ``zip`` them behind the lead columns' values."""
        names: list[str] = []
        columns: list[Iterable[Any]] = []
        for name, get, as_text in self.getters:
            column = list(map(get, items))
            if not any(map(is_not, column, repeat(None))):
                continue  # NULL in every row: the column's default
            names.append(name)
            columns.append(map(str, column) if as_text else column)
        return tuple(names), columns

    def insert(self, names: tuple[str, ...], suffix: str = "") -> str:
        """``INSERT INTO <table> (<lead>, <names>) VALUES (…)`` (+ ``suffix``)."""
        marks = ["?"] * len(self.lead) + ["NULLIF(?, 'None')" if self.as_text(name) else "?"
                                          for name in names]
        return (f"INSERT INTO {self.table} ({_column_list((*self.lead, *names))}) "
                f"VALUES ({', '.join(marks)}){suffix}")

    def as_text(self, name: str) -> bool:
        return next(as_text for column, _, as_text in self.getters if column == name)


_INVOICE_SHAPE = _Shape(Invoice, "invoices", ("pk", "account_key", "search", "sync_id"),
                        INVOICE_FIELDS)
_LINE_SHAPE = _Shape(Line, "lines", ("invoice_pk", "position"), LINE_FIELDS)
_TAX_SHAPE = _Shape(Tax, "taxes", ("invoice_pk", "line_position", "position"), TAX_FIELDS)
#: An invoice stored before keeps its row (and pk): every column is set, the ones this
#: batch did not bind to NULL (``excluded`` has the defaults there).
_UPDATE_INVOICE = " ON CONFLICT (pk) DO UPDATE SET " + ", ".join(
    f"{_column_list([name])} = excluded.{_column_list([name])}"
    for name in (*INVOICE_FIELDS, "search", "sync_id") if name not in ("id",))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# Reading builds objects positionally, so columns are selected in dataclass order.
_INVOICE_ORDER = tuple(f.name for f in fields(Invoice) if f.name != "lines")
_LINE_ORDER = tuple(f.name for f in fields(Line) if f.name != "taxes")
_TAX_ORDER = tuple(f.name for f in fields(Tax))
assert set(_INVOICE_ORDER) == set(INVOICE_FIELDS) and set(_LINE_ORDER) == set(LINE_FIELDS)
assert set(_TAX_ORDER) == set(TAX_FIELDS)


def _runs(cls: type, order: tuple[str, ...], annotation: str) -> tuple[slice, ...]:
    """The positions in ``order`` of fields annotated ``annotation``, as runs of slices."""
    kinds = {f.name: str(f.type) for f in fields(cls)}  # strings: postponed annotations
    runs: list[slice] = []
    for index, name in enumerate(order):
        if kinds[name] != annotation:
            continue
        if runs and runs[-1].stop == index:
            runs[-1] = slice(runs[-1].start, index + 1)
        else:
            runs.append(slice(index, index + 1))
    return tuple(runs)


_INVOICE_RUNS = (_runs(Invoice, _INVOICE_ORDER, _AMOUNT), _runs(Invoice, _INVOICE_ORDER, _DATE),
                 _runs(Invoice, _INVOICE_ORDER, _FLAG))
_LINE_RUNS = (_runs(Line, _LINE_ORDER, _AMOUNT), _runs(Line, _LINE_ORDER, _DATE), ())
_TAX_RUNS = (_runs(Tax, _TAX_ORDER, _AMOUNT), _runs(Tax, _TAX_ORDER, _DATE), ())
_SELECT_INVOICE = f"pk, {_column_list(_INVOICE_ORDER)}"
_SELECT_LINE = f"invoice_pk, position, {_column_list(_LINE_ORDER)}"
_SELECT_TAX = f"invoice_pk, line_position, {_column_list(_TAX_ORDER)}"


class _Memo(dict[Any, Any]):
    """Column text → value, each distinct text converted once; the values are immutable, shared."""

    def __init__(self, convert: Any) -> None:
        super().__init__({None: None})
        self._convert = convert

    def __missing__(self, key: str) -> Any:
        value = self[key] = self._convert(key)
        return value


class _Reader:
    """Rows → model objects (one per read: it holds the memos of amounts and dates)."""

    def __init__(self) -> None:
        self.amount = _Memo(Decimal).__getitem__
        self.date = _Memo(dt.date.fromisoformat).__getitem__

    def values(self, row: Sequence[Any], runs: tuple[tuple[slice, ...], ...]) -> list[Any]:
        values = list(row)
        amounts, dates, flags = runs
        for run in amounts:
            values[run] = map(self.amount, values[run])
        for run in dates:
            values[run] = map(self.date, values[run])
        for run in flags:
            values[run] = map(bool, values[run])
        return values

    def invoice(self, row: Sequence[Any], lines: tuple[Line, ...] = ()) -> Invoice:
        values = self.values(row, _INVOICE_RUNS)
        values.append(lines)
        return Invoice(*values)

    def lines_of(self, connection: sqlite3.Connection, pks: Sequence[int]
                 ) -> dict[int, tuple[Line, ...]]:
        """Every line (with its taxes) of the invoices ``pks``, by invoice pk, in order."""
        taxes: dict[tuple[int, int], list[Tax]] = {}
        lines: dict[int, list[Line]] = {}
        for chunk in _chunks(pks, _IN_CHUNK):
            marks = ", ".join("?" * len(chunk))
            for row in connection.execute(
                    f"SELECT {_SELECT_TAX} FROM taxes WHERE invoice_pk IN ({marks}) "
                    "ORDER BY invoice_pk, line_position, position", chunk):
                taxes.setdefault((row[0], row[1]), []).append(
                    Tax(*self.values(row[2:], _TAX_RUNS)))
            for row in connection.execute(
                    f"SELECT {_SELECT_LINE} FROM lines WHERE invoice_pk IN ({marks}) "
                    "ORDER BY invoice_pk, position", chunk):
                values = self.values(row[2:], _LINE_RUNS)
                values.append(tuple(taxes.get((row[0], row[1]), ())))
                lines.setdefault(row[0], []).append(Line(*values))
        return {pk: tuple(found) for pk, found in lines.items()}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _month_range(since: tuple[int, int] | None, until: tuple[int, int] | None
                 ) -> tuple[str, list[str]]:
    """SQL condition and parameters for "issued in since..until" (inclusive months)."""
    conditions, params = [], []
    if since is not None:
        conditions.append("issued >= ?")
        params.append(dt.date(since[0], since[1], 1).isoformat())
    if until is not None:
        year, month = until
        after = dt.date(year + month // 12, month % 12 + 1, 1)
        conditions.append("issued < ?")
        params.append(after.isoformat())
    return "".join(f" AND {condition}" for condition in conditions), params


# --- the store -------------------------------------------------------------------------

class InvoiceStore:
    """The database at ``path``: reads for the views and the export; :meth:`begin_sync` writes.

    Thread-safe: each thread reads through its own connection. Made by :func:`open_store`.
    """

    def __init__(self, path: Path, *, owns_directory: bool = False) -> None:
        self.path = path
        self._owns_directory = owns_directory
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every reader connection and the thread it belongs to, so close() can close them.
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False

    def __enter__(self) -> InvoiceStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the reader connections; later reads raise :class:`StoreError`.

        A connection of a thread still running (a reader thread mid-read as the app
        quits) is not closed under it: it goes when that thread ends. Running sync
        writers close their own.
        """
        current = threading.current_thread()
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for thread, connection in connections:
            if thread is current or not thread.is_alive():
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
        if self._owns_directory:
            shutil.rmtree(self.path.parent, ignore_errors=True)

    def _adopt(self, connection: sqlite3.Connection) -> None:
        # The connection open_store checked becomes this thread's reader.
        with self._lock:
            self._connections.append((threading.current_thread(), connection))
        self._local.connection = connection

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or self._closed:
            if self._closed:
                raise StoreError("the invoice store is closed", "this is a bug; please report it")
            connection = _connect(self.path)
            self._adopt(connection)
        return connection

    @contextlib.contextmanager
    def _reading(self, connection: sqlite3.Connection | None = None
                 ) -> Iterator[tuple[sqlite3.Connection, _Reader]]:
        """One read transaction (a consistent snapshot) with bad data as a :class:`StoreError`."""
        try:
            connection = connection or self._connection()
            connection.execute("BEGIN")
            try:
                yield connection, _Reader()
            finally:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._failure(exc, "read") from None
        except (ValueError, ArithmeticError) as exc:  # a value edited by hand, not ours
            raise StoreError(f"the invoice store {self.path} holds a value invoice-tui did not "
                             f"write ({_describe(exc)})",
                             "delete the file: it is only a cache, the next sync refetches"
                             ) from None

    def verify(self) -> tuple[str, ...]:
        """``PRAGMA quick_check`` now (after ``open_store(quick_check=False)``); warning lines.

        A failed check cannot move the file aside while it is in use: it is marked, and
        the next open moves it aside and starts afresh. Safe in any thread.
        """
        try:
            connection = _connect(self.path, wal=False)
            try:
                problem = _integrity_problem(connection)
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):  # locked, unreadable: no verdict on the file
                return (f"store: could not check {self.path} ({_describe(exc)})",)
            problem = _describe(exc)
        if problem is None:
            return ()
        self.mark_suspect()
        return (f"store: {self.path} {problem} — it is moved aside at the next start; it is "
                "only a cache, the next sync refetches",)

    def mark_suspect(self) -> None:
        """Have the next open check the whole file (a read or write found it damaged)."""
        with contextlib.suppress(OSError):
            _suspect_marker(self.path).touch(mode=0o600)

    def _failure(self, exc: sqlite3.Error, doing: str) -> StoreError:
        if isinstance(exc, sqlite3.DatabaseError) and _is_corruption(exc):
            self.mark_suspect()
        return _store_error(exc, doing)

    # -- writing ---------------------------------------------------------------------

    def begin_sync(self, account: AccountConfig, *, detached: bool = False) -> SyncWriter:
        """Register a sync of ``account`` (a ``syncs`` row: pid, start time); its writer.

        A ``detached`` writer keeps no connection open between its calls, so that its
        :meth:`SyncWriter.add_forked` can write in a forked child (see :mod:`forked`).
        """
        key = account_key(account)
        try:
            connection = _writer_connection(self.path)
        except sqlite3.Error as exc:
            raise _store_error(exc, "open") from None
        try:
            connection.execute("BEGIN IMMEDIATE")
            _sweep_stale_syncs(connection)
            connection.execute(
                "INSERT INTO accounts (account_key, name, provider) VALUES (?, ?, ?) "
                "ON CONFLICT (account_key) DO NOTHING", (key, account.name, account.provider))
            cursor = connection.execute(
                "INSERT INTO syncs (account_key, pid, started_at) VALUES (?, ?, ?)",
                (key, os.getpid(), dt.datetime.now(dt.UTC).isoformat()))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
            raise _store_error(exc, "start a sync in") from None
        assert cursor.lastrowid is not None
        if detached:
            connection.close()
        return SyncWriter(self, account, key, None if detached else connection, cursor.lastrowid)

    def close_readers(self) -> None:
        """Close this thread's reader connection (and those of ended threads); the next
        read opens one again. A batch does this before its writers fork."""
        current = threading.current_thread()
        with self._lock:
            closing = [(thread, connection) for thread, connection in self._connections
                       if thread is current or not thread.is_alive()]
            self._connections = [entry for entry in self._connections if entry not in closing]
        for _, connection in closing:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local.connection = None

    # -- reading ---------------------------------------------------------------------

    def account_states(self, accounts: Iterable[AccountConfig]) -> dict[str, StoredAccount]:
        """Each account's last complete sync, by name (``StoredAccount()`` when there is none)."""
        names = {account_key(account): account.name for account in accounts}
        states = {name: StoredAccount() for name in names.values()}
        if not names:
            return states
        with self._reading() as (connection, reader):
            rows = connection.execute(
                "SELECT account_key, synced_at, invoice_count, plan_price, plan_currency, "
                "balance, balance_currency FROM accounts WHERE synced_at IS NOT NULL "
                f"AND account_key IN ({', '.join('?' * len(names))})", list(names)).fetchall()
            for key, synced_at, count, price, price_currency, balance, balance_currency in rows:
                when = dt.datetime.fromisoformat(synced_at)
                states[names[key]] = StoredAccount(
                    when if when.tzinfo else when.replace(tzinfo=dt.UTC), count,
                    AccountSummary(reader.amount(price), price_currency,
                                   reader.amount(balance), balance_currency))
        return states

    def load_headers(self, account: AccountConfig) -> StoredHeaders:
        """The account's invoices with ``lines=()``, and their search texts (in the same order)."""
        invoices: list[Invoice] = []
        search: list[str] = []
        with self._reading() as (connection, reader):
            cursor = connection.execute(
                f"SELECT {_SELECT_INVOICE}, search FROM invoices WHERE account_key = ?",
                (account_key(account),))
            while rows := cursor.fetchmany(READ_CHUNK):
                for row in rows:
                    invoices.append(reader.invoice(row[1:-1]))
                    search.append(row[-1])
        return StoredHeaders(tuple(invoices), tuple(search))

    def lines(self, account: AccountConfig, invoice_id: str) -> tuple[Line, ...]:
        """The lines (each with its taxes) of one invoice; ``()`` when it has none or is gone."""
        with self._reading() as (connection, reader):
            found = connection.execute(
                "SELECT pk FROM invoices WHERE account_key = ? AND id = ?",
                (account_key(account), invoice_id)).fetchone()
            if found is None:
                return ()
            return reader.lines_of(connection, [found[0]]).get(found[0], ())

    def invoices_of(self, accounts: Mapping[str, AccountConfig],
                    keys: Sequence[tuple[str, str]], *, lines: bool = False) -> list[Invoice]:
        """The stored invoices with these ``(account, id)`` keys, in the order of ``keys``,
        with their lines and taxes if ``lines``; one query per 500, in one snapshot. A key
        of an account not in ``accounts``, or no longer stored, is left out."""
        wanted: dict[str, list[str]] = {}
        for name, invoice_id in keys:
            if name in accounts:
                wanted.setdefault(name, []).append(invoice_id)
        found: dict[tuple[str, str], Invoice] = {}
        with self._reading() as (connection, reader):
            for name, ids in wanted.items():
                key = account_key(accounts[name])
                for chunk in _chunks(ids, _IN_CHUNK):
                    rows = connection.execute(
                        f"SELECT {_SELECT_INVOICE} FROM invoices WHERE account_key = ? "
                        f"AND id IN ({', '.join('?' * len(chunk))})", (key, *chunk)).fetchall()
                    details = reader.lines_of(connection, [row[0] for row in rows]) if lines else {}
                    for row in rows:
                        invoice = reader.invoice(row[1:], details.get(row[0], ()))
                        found[name, invoice.id] = invoice
        return [found[key] for key in keys if key in found]

    def iter_invoices(
        self,
        accounts: Iterable[AccountConfig],
        *,
        lines: bool = True,
        since: tuple[int, int] | None = None,
        until: tuple[int, int] | None = None,
    ) -> Iterator[Invoice]:
        """The accounts' invoices, streamed in chunks, in the order of ``sort_for_export``.

        Newest issued first, then account and id; undated ones last. ``since``/``until``
        (inclusive ``(year, month)``, as :func:`export.filter_by_month`) leave out
        undated invoices. One snapshot throughout, on a connection of its own, so a
        sync committing meanwhile changes nothing in the middle of an export.
        """
        keys = [account_key(account) for account in accounts]
        if not keys:
            return
        months, params = _month_range(since, until)
        try:
            connection = _connect(self.path)
        except sqlite3.Error as exc:
            raise _store_error(exc, "open") from None
        try:
            with self._reading(connection) as (_, reader):
                cursor = connection.execute(
                    f"SELECT {_SELECT_INVOICE} FROM invoices "
                    f"WHERE account_key IN ({', '.join('?' * len(keys))}){months} "
                    "ORDER BY issued DESC, account, id", [*keys, *params])
                while rows := cursor.fetchmany(READ_CHUNK):
                    found = reader.lines_of(connection, [row[0] for row in rows]) if lines else {}
                    for row in rows:
                        yield reader.invoice(row[1:], found.get(row[0], ()))
        finally:
            connection.close()


class _BatchRows:
    """One batch of invoices as the store's rows, built before its write transaction, so
    the write lock is held for the writes only; the rows are zipped from the columns
    there, behind the pks it finds."""

    def __init__(self, batch: list[Invoice]) -> None:
        self.ids = [invoice.id for invoice in batch]
        lines = [line for invoice in batch for line in invoice.lines]
        taxes = [tax for line in lines for tax in line.taxes]
        self.line_owner = [index for index, invoice in enumerate(batch) for _ in invoice.lines]
        self.tax_owner = [index for index, line in enumerate(lines) for _ in line.taxes]
        self.line_positions = [position for invoice in batch
                               for position in range(len(invoice.lines))]
        self.tax_positions = [position for line in lines for position in range(len(line.taxes))]
        self.searches = list(map(view.search_text, batch))
        self.invoice_names, self.invoice_columns = _INVOICE_SHAPE.columns(batch)
        self.line_names, self.line_columns = _LINE_SHAPE.columns(lines)
        self.tax_names, self.tax_columns = _TAX_SHAPE.columns(taxes)

    def write(self, connection: sqlite3.Connection, key: str, sync_id: int) -> None:
        """Upsert the batch as part of sync ``sync_id`` (in the caller's write transaction)."""
        if connection.execute("SELECT 1 FROM syncs WHERE sync_id = ?",
                              (sync_id,)).fetchone() is None:
            # Swept by another instance that took this sync's process for dead.
            raise StoreError("this sync's bookkeeping was removed by another invoice-tui",
                             "sync again")
        pks, stored = _pks(connection, key, self.ids)
        connection.executemany(
            _INVOICE_SHAPE.insert(self.invoice_names, _UPDATE_INVOICE),
            zip(pks, repeat(key), self.searches, repeat(sync_id), *self.invoice_columns))
        if stored:  # refreshed invoices: their lines and taxes are written anew
            connection.executemany("DELETE FROM taxes WHERE invoice_pk = ?", stored)
            connection.executemany("DELETE FROM lines WHERE invoice_pk = ?", stored)
        line_pks = list(map(pks.__getitem__, self.line_owner))
        connection.executemany(_LINE_SHAPE.insert(self.line_names),
                               zip(line_pks, self.line_positions, *self.line_columns,
                                   strict=True))
        connection.executemany(
            _TAX_SHAPE.insert(self.tax_names),
            zip(map(line_pks.__getitem__, self.tax_owner),
                map(self.line_positions.__getitem__, self.tax_owner), self.tax_positions,
                *self.tax_columns, strict=True))
        connection.executemany("INSERT OR IGNORE INTO sync_seen (sync_id, invoice_pk) "
                               "VALUES (?, ?)", zip(repeat(sync_id), pks))


def _pks(connection: sqlite3.Connection, key: str, ids: list[str]
         ) -> tuple[list[int], list[tuple[int]]]:
    """The pks ``ids`` of account ``key`` have or get (same order), and those of them
    already stored.

    New invoices get the next free pks, as SQLite's own rowid choice would: the
    transaction holds the write lock, so nobody takes them meanwhile.
    """
    found: dict[str, int] = {}
    for chunk in _chunks(ids, _IN_CHUNK):
        found.update(connection.execute(
            f"SELECT id, pk FROM invoices WHERE account_key = ? "
            f"AND id IN ({', '.join('?' * len(chunk))})", [key, *chunk]))
    stored = [(pk,) for pk in found.values()]
    if len(found) < len(ids):
        after = connection.execute("SELECT coalesce(max(pk), 0) FROM invoices").fetchone()[0]
        fresh = iter(range(after + 1, after + 1 + len(ids)))
        return [found.get(invoice_id) or next(fresh) for invoice_id in ids], stored
    return [found[invoice_id] for invoice_id in ids], stored


def _writer_connection(path: Path) -> sqlite3.Connection:
    """A connection for a sync's writes."""
    connection = _connect(path)
    # The writer deletes lines and taxes itself, only where it replaces or drops
    # invoices: checking every inserted row's parent, and looking for children of
    # every upserted invoice, cost a sixth of the writes.
    try:
        connection.execute("PRAGMA foreign_keys=OFF")
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def _write_transaction(connection: sqlite3.Connection, store: InvoiceStore, doing: str
                       ) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; on any error nothing stays, and a sqlite3 error
    is raised as :class:`StoreError`."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:  # an error (COMMIT's too): nothing stays
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise store._failure(exc, doing) from None



class SyncWriter:
    """Writes one sync of one account; made by :meth:`InvoiceStore.begin_sync`.

    :meth:`add` upserts a batch (one transaction); :meth:`finish` replaces the
    account's rows by what this sync saw, in one transaction; :meth:`abandon`
    (failure, cancel) keeps every row and drops only the bookkeeping. Safe to
    call from any thread, one call at a time (calls wait for each other).
    """

    def __init__(self, store: InvoiceStore, account: AccountConfig, key: str,
                 connection: sqlite3.Connection | None, sync_id: int) -> None:
        self.store = store
        self.account = account
        self.key = key
        self.sync_id = sync_id
        self.written = 0  # distinct invoices stored by this sync so far
        self.duplicates = 0  # invoices left out because this sync already had their id
        # None: detached (see begin_sync), a connection is opened per transaction.
        self._connection = connection
        self._detached = connection is None
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self._children: set[forked.Child[None]] = set()
        self._ending = False  # abandon() has begun: no more children
        self._ended = False

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_running()
            if self._connection is not None:
                with _write_transaction(self._connection, self.store, doing) as connection:
                    yield connection
                return
            try:
                connection = _writer_connection(self.store.path)
            except sqlite3.Error as exc:
                raise self.store._failure(exc, "open") from None
            try:
                with _write_transaction(connection, self.store, doing):
                    yield connection
            finally:
                connection.close()

    def _check_running(self) -> None:
        if self._ended:
            raise StoreError("this sync has already ended", "this is a bug; please report it")

    def _end(self) -> None:
        self._ended = True
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()

    def admit(self, invoices: Iterable[Invoice]) -> list[Invoice]:
        """The invoices of ``invoices`` this sync has not written yet (the first of each id);
        the rest are counted in ``duplicates``. Nothing is written."""
        self._check_running()
        batch: list[Invoice] = []
        ids: set[str] = set()
        for invoice in invoices:
            if invoice.account != self.account.name:
                raise ValueError(f"an invoice of {invoice.account!r} given to the sync of "
                                 f"{self.account.name!r}")
            if invoice.id in self._ids or invoice.id in ids:
                self.duplicates += 1
                continue
            ids.add(invoice.id)
            batch.append(invoice)
        return batch

    def _written(self, batch: list[Invoice]) -> int:
        self._ids.update(invoice.id for invoice in batch)
        self.written += len(batch)
        return len(batch)

    def add(self, invoices: Iterable[Invoice]) -> int:
        """Upsert a batch of this account's invoices with their lines and taxes; how many.

        An invoice already stored keeps its ``pk`` (readers holding it keep working)
        and gets its lines replaced. An id this sync already wrote is left out (the
        first one stays, as the providers dedupe) and counted in ``duplicates``.
        """
        batch = self.admit(invoices)
        if not batch:
            return 0
        rows = _BatchRows(batch)
        with self._transaction("write") as connection:
            rows.write(connection, self.key, self.sync_id)
        return self._written(batch)

    def add_forked(self, invoices: Iterable[Invoice], per_transaction: int
                   ) -> Callable[[], int] | None:
        """:meth:`add` in a forked child (another CPU core), when that is safe now; one
        transaction per ``per_transaction`` invoices.

        ``None`` when it is not (see :mod:`forked`): the caller then calls :meth:`add`.
        Otherwise a blocking wait for the child that returns what :meth:`add` returns,
        or raises :class:`StoreError`; call it before the next write of this sync.
        A child stopped half way has committed whole transactions only: rows this
        sync wrote, kept as :meth:`add`'s would be.
        """
        if not (self._detached and forked.available()):
            return None
        batch = list(invoices)
        path, key, sync_id = self.store.path, self.key, self.sync_id
        admitted: list[Invoice] = []

        def write() -> None:  # in the child
            try:
                connection = _writer_connection(path)
            except sqlite3.Error as exc:
                raise self.store._failure(exc, "open") from None
            try:
                for chunk in _chunks(admitted, per_transaction):
                    rows = _BatchRows(list(chunk))
                    with _write_transaction(connection, self.store, "write"):
                        rows.write(connection, key, sync_id)
            finally:
                connection.close()

        with self._lock:
            self._check_running()
            if self._ending:
                raise StoreError("this sync has already ended", "this is a bug; please report it")
            admitted = self.admit(batch)
            if not admitted:
                return lambda: 0
            child = forked.start(write, uses_sqlite=True)
            if child is None:  # a connection is open: add() does it, and counts again
                self.duplicates -= len(batch) - len(admitted)
                return None
            try:
                self._children.add(child)
            except BaseException:  # an interrupt: the child is not left untracked
                child.stop()
                raise

        def wait() -> int:
            try:
                child.result()
            except forked.ChildFailed as exc:
                raise StoreError(f"could not write the invoice store ({exc})",
                                 "try again; if it persists, set INVOICE_TUI_NO_FORK=1 "
                                 "and report it") from None
            finally:
                self._children.discard(child)
            return self._written(admitted)
        return wait

    def finish(self, summary: AccountSummary, synced_at: dt.datetime) -> int:
        """The sync is complete: in one transaction, drop the account's invoices it did not
        see, stamp the account (``synced_at``, count, summary), drop the bookkeeping.

        Rows last written by another sync still running (a second instance) are left for
        that sync to judge. Returns the account's invoice count.
        """
        key, sync_id = self.key, self.sync_id
        with self._lock:
            if self._children:  # what they write would be deleted as unseen
                raise StoreError("a sync was finished while its writes were still running",
                                 "this is a bug; please report it")
        with self._transaction("finish a sync in") as connection:
            if connection.execute("SELECT 1 FROM syncs WHERE sync_id = ?",
                                  (sync_id,)).fetchone() is None:
                # Swept by another instance that took this process for dead: without the
                # list of what this sync saw, deleting the rest would delete everything.
                raise StoreError("this sync's bookkeeping was removed by another invoice-tui",
                                 "sync again")
            _sweep_stale_syncs(connection, keep=sync_id)
            # The writer's connection has foreign keys off: children go first, by hand.
            unseen = ("SELECT pk FROM invoices WHERE account_key = ? "
                      "AND pk NOT IN (SELECT invoice_pk FROM sync_seen WHERE sync_id = ?) "
                      "AND sync_id NOT IN (SELECT sync_id FROM syncs "
                      "WHERE account_key = ? AND sync_id != ?)")
            for table, column in (("taxes", "invoice_pk"), ("lines", "invoice_pk"),
                                  ("invoices", "pk")):
                connection.execute(f"DELETE FROM {table} WHERE {column} IN ({unseen})",
                                   (key, sync_id, key, sync_id))
            count = connection.execute("SELECT count(*) FROM invoices WHERE account_key = ?",
                                       (key,)).fetchone()[0]
            stamp = synced_at.astimezone(dt.UTC).isoformat()
            connection.execute(
                "INSERT INTO accounts (account_key, name, provider, synced_at, invoice_count, "
                "plan_price, plan_currency, balance, balance_currency) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_key) DO UPDATE SET "
                "name = excluded.name, provider = excluded.provider, "
                "synced_at = excluded.synced_at, invoice_count = excluded.invoice_count, "
                "plan_price = excluded.plan_price, plan_currency = excluded.plan_currency, "
                "balance = excluded.balance, balance_currency = excluded.balance_currency",
                (key, self.account.name, self.account.provider, stamp, count,
                 _text(summary.plan_price), summary.plan_currency, _text(summary.balance),
                 summary.balance_currency))
            connection.execute("DELETE FROM sync_seen WHERE sync_id = ?", (sync_id,))
            connection.execute("DELETE FROM syncs WHERE sync_id = ?", (sync_id,))
        self._end()
        return int(count)

    def abandon(self) -> None:
        """The sync failed or was cancelled: drop its bookkeeping, keep every row it wrote
        (real, newer versions). A no-op once the sync has ended."""
        if self._ended:
            return
        with self._lock:  # no child starts after this
            self._ending = True
            children = list(self._children)
        for child in children:  # a write in a child stops: nothing of it stays
            child.stop()
        try:
            with self._transaction("clean up a sync in") as connection:
                connection.execute("DELETE FROM sync_seen WHERE sync_id = ?", (self.sync_id,))
                connection.execute("DELETE FROM syncs WHERE sync_id = ?", (self.sync_id,))
        finally:
            with self._lock:
                self._end()
