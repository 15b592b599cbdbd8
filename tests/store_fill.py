"""Test helper: invoices into a store database, and the TUI's view over it.

Interim: it writes through ``invoice_tui.store_bridge`` until the store's own writer
lands (then ``store.begin_sync(account)`` / ``add`` / ``finish``). Every test fills a
store through here, so that swap happens in one place.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from invoice_tui import store_bridge
from invoice_tui.index import (
    AccountIndex,
    Extras,
    StoreReader,
    connect_reader,
    load_account,
    load_extras,
    snapshot,
)
from invoice_tui.model import AccountSummary, Invoice
from invoice_tui.store import DB_NAME
from invoice_tui.view import STORED_SORT_KEYS, InvoiceView

SYNCED_AT = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)
_TEMP = tempfile.TemporaryDirectory(prefix="invoice-tui-test-store-")
_NAMES = itertools.count()


def fill_store(path: Path, invoices: Iterable[Invoice], *,
               synced_at: dt.datetime = SYNCED_AT,
               summaries: Mapping[str, AccountSummary] | None = None,
               accounts: Iterable[tuple[str, str]] = ()) -> Path:
    """Store ``invoices`` as each account's last complete sync (their accounts' rows
    replaced); ``accounts`` (name, provider) are stored too, empty when none is given."""
    by_account: dict[str, list[Invoice]] = {}
    providers = dict(accounts)
    for invoice in invoices:
        by_account.setdefault(invoice.account, []).append(invoice)
        providers.setdefault(invoice.account, invoice.provider)
    conn = store_bridge.connect(path)
    try:
        for account, provider in providers.items():
            store_bridge.replace_account(conn, account, provider, by_account.get(account, []),
                                         synced_at, (summaries or {}).get(account))
    finally:
        conn.close()
    return path


def write_page(path: Path, account: str, provider: str, invoices: Iterable[Invoice]) -> None:
    """Write one page of a running sync (upserted; nothing else of the account changes)."""
    conn = store_bridge.connect(path)
    try:
        store_bridge.upsert_invoices(conn, account, provider, invoices)
    finally:
        conn.close()


def store_path(directory: Path) -> Path:
    """Where the app keeps its store in ``directory`` (its cache dir)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / DB_NAME


def read_index(path: Path, account: str, *, extras: bool = True
               ) -> tuple[AccountIndex, Extras | None]:
    """One account's index as the app reads it, with its extras (search, sort keys)."""
    conn = connect_reader(path)
    assert conn is not None
    try:
        with snapshot(conn):
            index = load_account(conn, account)
            loaded = load_extras(conn, index, STORED_SORT_KEYS) if extras else None
            assert loaded is not None or not extras
    finally:
        conn.close()
    return index, loaded


def stored_accounts(path: Path) -> list[str]:
    """Accounts with stored invoices, in the order they were first stored."""
    conn = connect_reader(path)
    assert conn is not None
    try:
        return [row[0] for row in conn.execute(
            "SELECT account FROM invoices GROUP BY account ORDER BY min(pk)")]
    finally:
        conn.close()


def load_view(view: InvoiceView, path: Path, accounts: Iterable[str] | None = None, *,
              extras: bool = True) -> InvoiceView:
    """(Re)load these accounts' indexes (default: every stored one) into ``view``."""
    for name in stored_accounts(path) if accounts is None else accounts:
        index, loaded = read_index(path, name, extras=extras)
        view.set_index(index)
        if loaded is not None:
            view.set_extras(index, *loaded)
    return view


def temp_store() -> Path:
    """A fresh, not yet existing store path (removed at the end of the test session)."""
    return Path(_TEMP.name) / f"{next(_NAMES)}.sqlite3"


def view_of(*invoices: Invoice, extras: bool = True) -> InvoiceView:
    """A view over a fresh store holding ``invoices``."""
    path = fill_store(temp_store(), invoices)
    return load_view(InvoiceView(StoreReader(path)), path, extras=extras)


def replace_account(view: InvoiceView, account: str, invoices: Iterable[Invoice]) -> None:
    """A refresh of one account: its stored invoices replaced, its index reloaded."""
    assert isinstance(view.source, StoreReader)
    invoices = list(invoices)
    provider = invoices[0].provider if invoices else "voximplant"
    fill_store(view.source.path, invoices, accounts=[(account, provider)])
    load_view(view, view.source.path, [account])
