"""Putting invoices in a store without a server: what a complete sync writes, done by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from invoice_tui.config import AccountConfig
from invoice_tui.model import AccountSummary, Invoice
from invoice_tui.store import InvoiceStore, open_store


def new_store(tmp_path: Path) -> InvoiceStore:
    """A fresh store in ``tmp_path/cache`` (asserted to open without a warning)."""
    opened = open_store(tmp_path / "cache")
    assert opened.warnings == ()
    return opened.store


def fill_store(store: InvoiceStore, account: AccountConfig, invoices: Sequence[Invoice],
               synced_at: dt.datetime, summary: AccountSummary | None = None) -> None:
    """Store ``invoices`` as the account's last complete sync (begin, add, finish)."""
    writer = store.begin_sync(account)
    writer.add(invoices)
    writer.finish(summary or AccountSummary(), synced_at)
