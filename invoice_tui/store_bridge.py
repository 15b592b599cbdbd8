"""INTERIM, branch ``view`` only: put invoices into the store's schema until its writer lands.

The TUI reads the SQLite store (:mod:`invoice_tui.index`); writing it is the store's job
(``store.begin_sync`` / ``SyncWriter.add`` / ``finish``, being written on another branch).
Until that merges, this is the one place that writes rows in ``store.SCHEMA``: the main
screen hands it a finished sync's invoices, the tests and benchmarks fill databases with
it. At merge: delete this module, let ``sync_account(..., store=…)`` write, and switch
``tests/store_fill.py`` to the real writer.

The account key is the account's name here (the store hashes the account's identity).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from invoice_tui.model import AccountSummary, Invoice
from invoice_tui.store import SCHEMA, SCHEMA_VERSION
from invoice_tui.view import search_text

__all__ = ["connect", "replace_account", "upsert_invoices"]

_INVOICE_COLUMNS = (
    "account", "provider", "id", "number", "label", "issued", "due", "period_start",
    "period_end", "status", "currency", "subtotal", "discount", "tax", "total", "amount_due",
    "tax_rate", "url", "pdf_url", "totals_computed", "estimate_incomplete",
)
_LINE_COLUMNS = (
    "kind", "description", "quantity", "unit_price", "amount", "tax", "net", "gross",
    "currency", "period_start", "period_end", "consumption", "limit", "lookup_key",
)
_LINE_NAMES = ", ".join(f'"{c}"' for c in _LINE_COLUMNS)  # "limit" is an SQL keyword
_TAX_COLUMNS = ("name", "rate", "amount", "level", "category", "taxable", "currency")


def connect(path: Path) -> sqlite3.Connection:
    """A writing connection to the database at ``path``, the schema created if it is new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    for attempt in range(100):  # switching to WAL is refused, not waited for, while busy
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)
    conn.execute("PRAGMA foreign_keys=ON")
    if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
        # Idempotent and under the write lock: another connection may be creating it too.
        schema = SCHEMA.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ").replace(
            "CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
        conn.executescript(f"BEGIN IMMEDIATE; {schema} "
                           f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
    return conn


def _text(value: object) -> object:
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)  # Decimal: exact


def upsert_invoices(conn: sqlite3.Connection, account: str, provider: str,
                    invoices: Iterable[Invoice], sync_id: int = 0) -> list[int]:
    """Insert or update invoices (a page of a sync) in one transaction; their pks.

    An invoice already stored keeps its ``pk``; its lines and taxes are replaced.
    """
    invoices = list(invoices)
    names = ", ".join(_INVOICE_COLUMNS)
    marks = ", ".join("?" * (len(_INVOICE_COLUMNS) + 3))
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*_INVOICE_COLUMNS, "search", "sync_id"))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR IGNORE INTO accounts (account_key, name, provider) "
                     "VALUES (?, ?, ?)", (account, account, provider))
        conn.executemany(
            f"INSERT INTO invoices (account_key, {names}, search, sync_id) VALUES ({marks}) "
            f"ON CONFLICT (account_key, id) DO UPDATE SET {updates}",
            ((account, *(_text(getattr(inv, c)) for c in _INVOICE_COLUMNS), search_text(inv),
              sync_id) for inv in invoices))
        stored = dict(conn.execute("SELECT id, pk FROM invoices WHERE account_key = ?",
                                   (account,)))
        pks = [stored[inv.id] for inv in invoices]
        conn.executemany("DELETE FROM lines WHERE invoice_pk = ?", ((pk,) for pk in pks))
        conn.executemany(
            f"INSERT INTO lines (invoice_pk, position, {_LINE_NAMES}) "
            f"VALUES ({', '.join('?' * (len(_LINE_COLUMNS) + 2))})",
            ((pk, position, *(_text(getattr(line, c)) for c in _LINE_COLUMNS))
             for pk, inv in zip(pks, invoices, strict=True)
             for position, line in enumerate(inv.lines)))
        conn.executemany(
            f"INSERT INTO taxes (invoice_pk, line_position, position, {', '.join(_TAX_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(_TAX_COLUMNS) + 3))})",
            ((pk, line_position, position, *(_text(getattr(tax, c)) for c in _TAX_COLUMNS))
             for pk, inv in zip(pks, invoices, strict=True)
             for line_position, line in enumerate(inv.lines)
             for position, tax in enumerate(line.taxes)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return pks


def replace_account(conn: sqlite3.Connection, account: str, provider: str,
                    invoices: Iterable[Invoice], synced_at: dt.datetime,
                    summary: AccountSummary | None = None) -> None:
    """A finished sync: the account's invoices become exactly ``invoices`` (pks kept)."""
    invoices = list(invoices)
    summary = summary or AccountSummary()
    sync_id = int(conn.execute("SELECT coalesce(max(sync_id), 0) + 1 FROM invoices")
                  .fetchone()[0])
    upsert_invoices(conn, account, provider, invoices, sync_id)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM invoices WHERE account_key = ? AND sync_id != ?", (account, sync_id))
    conn.execute(
        "UPDATE accounts SET synced_at = ?, invoice_count = ?, plan_price = ?, "
        "plan_currency = ?, balance = ?, balance_currency = ? WHERE account_key = ?",
        (synced_at.isoformat(), len(invoices), _text(summary.plan_price), summary.plan_currency,
         _text(summary.balance), summary.balance_currency, account))
    conn.execute("COMMIT")
