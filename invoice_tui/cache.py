"""The local invoice cache (SPEC §3): per account, atomic, versioned; corrupt → warning.

CONTRACT (implemented by the core work; signatures are fixed — the UI codes against them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .config import AccountConfig
from .model import AccountSummary, Invoice


@dataclass(frozen=True, slots=True)
class CachedAccount:
    """What the last successful sync of one account produced."""

    invoices: tuple[Invoice, ...]
    synced_at: dt.datetime  # timezone-aware UTC
    summary: AccountSummary = AccountSummary()


@dataclass
class InvoiceCache:
    """Cache files under ``directory``; ``warnings`` collects one line per ignored corrupt file."""

    directory: Path
    warnings: list[str] = field(default_factory=list)

    def load(self, account: AccountConfig) -> CachedAccount | None:
        """The cached sync of ``account``, or ``None`` (missing, other version, or corrupt)."""
        raise NotImplementedError

    def save(self, account: AccountConfig, cached: CachedAccount) -> None:
        """Atomically replace the account's cache file. Never raises for I/O: warns instead."""
        raise NotImplementedError
