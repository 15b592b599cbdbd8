"""Test helper: invoices into a store (its own sync writer), and the TUI's view over it."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from store_helpers import fill_store

from invoice_tui.config import AccountConfig
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
from invoice_tui.store import InvoiceStore, open_store
from invoice_tui.view import STORED_SORT_KEYS, InvoiceView

SYNCED_AT = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)
_TEMP = tempfile.TemporaryDirectory(prefix="invoice-tui-test-store-")


def account_config(name: str, provider: str) -> AccountConfig:
    """A configured account as the scripted tests make them (its identity in the store)."""
    return AccountConfig(name=name, provider=provider, options={"name": name})


def store_in(directory: Path) -> InvoiceStore:
    """The store in ``directory`` (made if need be), opened as the app opens it."""
    opened = open_store(directory)
    assert opened.warnings == ()
    return opened.store


def store_of(invoices: Iterable[Invoice] = (), **kwargs: object) -> InvoiceStore:
    """A fresh store holding ``invoices`` (see :func:`put`), in the session's temp dir."""
    return put(store_in(Path(tempfile.mkdtemp(dir=_TEMP.name))), invoices, **kwargs)


def put(store: InvoiceStore, invoices: Iterable[Invoice], *,
        synced_at: dt.datetime = SYNCED_AT,
        summaries: Mapping[str, AccountSummary] | None = None,
        accounts: Iterable[tuple[str, str]] = ()) -> InvoiceStore:
    """Store ``invoices`` as each account's last complete sync (what it stored before is
    replaced); ``accounts`` (name, provider) are synced too, empty when none is given."""
    by_account: dict[str, list[Invoice]] = {}
    providers = dict(accounts)
    for invoice in invoices:
        by_account.setdefault(invoice.account, []).append(invoice)
        providers.setdefault(invoice.account, invoice.provider)
    for name, provider in providers.items():
        fill_store(store, account_config(name, provider), by_account.get(name, []), synced_at,
                   (summaries or {}).get(name))
    return store


def read_index(path: Path, account: str, *, extras: bool = True
               ) -> tuple[AccountIndex, Extras | None]:
    """One account's index as the app reads it, with its extras (search, sort keys)."""
    conn = connect_reader(path)
    assert conn is not None
    try:
        with snapshot(conn):
            index = load_account(conn, account)
            loaded = load_extras(conn, index, STORED_SORT_KEYS) if extras else None
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


def view_of(*invoices: Invoice, extras: bool = True) -> InvoiceView:
    """A view over a fresh store holding ``invoices``."""
    path = store_of(invoices).path
    return load_view(InvoiceView(StoreReader(path)), path, extras=extras)


def replace_account(view: InvoiceView, account: str, invoices: Iterable[Invoice]) -> None:
    """A refresh of one account: its stored invoices replaced, its index reloaded."""
    assert isinstance(view.source, StoreReader)
    invoices = list(invoices)
    provider = invoices[0].provider if invoices else "voximplant"
    with store_in(view.source.path.parent) as store:
        put(store, invoices, accounts=[(account, provider)])
    load_view(view, view.source.path, [account])
