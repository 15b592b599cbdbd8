"""Fetch orchestration: all accounts concurrently, retries, progress events (no UI here).

CONTRACT (implemented by the core work; signatures are fixed — the UI codes against them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .cache import InvoiceCache
from .config import AccountConfig, Config, Settings
from .model import AccountSummary, Invoice
from .providers.base import FetchProgress, ProviderError


@dataclass(frozen=True, slots=True)
class SyncStarted:
    account: str


@dataclass(frozen=True, slots=True)
class SyncProgress:
    account: str
    progress: FetchProgress


@dataclass(frozen=True, slots=True)
class SyncSucceeded:
    account: str
    invoices: tuple[Invoice, ...]
    summary: AccountSummary
    synced_at: dt.datetime  # timezone-aware UTC


@dataclass(frozen=True, slots=True)
class SyncFailed:
    account: str
    error: ProviderError


SyncEvent = SyncStarted | SyncProgress | SyncSucceeded | SyncFailed
SyncOutcome = SyncSucceeded | SyncFailed
EventCallback = Callable[[SyncEvent], None]


async def sync_account(
    account: AccountConfig,
    settings: Settings,
    *,
    cache: InvoiceCache | None = None,
    on_event: EventCallback | None = None,
) -> SyncOutcome:
    """Fetch one account with its own ``httpx.AsyncClient``; save to ``cache`` on success.

    Never raises for provider/network problems (those become ``SyncFailed``);
    honours cancellation (``asyncio.CancelledError`` propagates).
    """
    raise NotImplementedError


async def sync_all(
    config: Config,
    names: Iterable[str] | None = None,
    *,
    cache: InvoiceCache | None = None,
    on_event: EventCallback | None = None,
) -> dict[str, SyncOutcome]:
    """Sync the named accounts (default: all) concurrently; one failure never affects another."""
    raise NotImplementedError
